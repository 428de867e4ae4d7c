/**
 * Email for real: journeys on the time-skipping server send through nodemailer's pool to a real SMTP
 * server on loopback, which is parsed on arrival, headers included. The server injects faults (4xx,
 * 5xx, a dropped connection, a reply slower than the client waits) and each recorded outcome is
 * checked, with no message delivered twice. One-click unsubscribe is exercised end to end.
 */
import type { JourneyReport } from '../../client/server/journeys/report';
import { createHash, createHmac } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ParsedMail } from 'mailparser';
import { signUnsubscribe, unsubscribeKeys } from '../../activities/channels/unsubscribe';
import { activeSuppression, consentFor, recentSends } from '../../activities/store/consent';
import type { MessagePreview, TestSend } from '../../activities/previews';
import type { JourneyResult } from '../../workflows/types';
import { eventually } from '../helpers/eventually';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { startTestStack, TEST_PUBLIC_URL, TEST_UNSUBSCRIBE_SECRET, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { liquidChecker } from '../../activities/render';
import { compileJourney } from '../../definitions/compile';
import { templateLocalesReader, templateReader, toPlan } from '../../client/server/journeys/load';
import { builtinTemplatesDir } from '../../paths';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let sink: SmtpSink;

const WEBHOOK_SECRET = 'test-email-webhook-secret-0123456789abcdef';
const MAILGUN_KEY = 'key-test-mailgun-signing-0123456789';

/** The mailer waits this long for a reply; the slow server answers later. */
const CLIENT_TIMEOUT_MS = 1500;

beforeAll(async () => {
  env = await timeSkippingEnv();
  sink = await startSmtpSink();
  stack = await startTestStack(env, {
    journeysDirs: [],
    smtpUrl: sink.url,
    smtpTimeoutMs: CLIENT_TIMEOUT_MS,
    settings: {
      RAPPORT_EMAIL_WEBHOOK_SECRET: WEBHOOK_SECRET,
      MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
      // Only the sender of the journey `limited`: the other journeys send without a limit.
      RAPPORT_SEND_RATE: 'email:limited@acme.example=2/s',
    },
  });
  await stack.publish({
    'limited.yaml': `
journey: limited
name: Limited sender
category: transactional
trigger: { event: limited.start }
entry: { reentry: always }
sending: { from: "Acme <limited@acme.example>" }
steps:
  - id: note
    type: send
    channel: email
    subject: "A note"
    text: "Sent within the sender's limit."
`,
    'promo.yaml': `
journey: promo
name: Spring promotion
category: marketing
trigger: { event: promo.start }
entry: { reentry: always }
sending: { from: "Acme News <news@acme.example>", replyTo: "help@acme.example" }
steps:
  - id: offer
    type: send
    channel: email
    subject: "{{ customer.firstName }}, spring is here"
    text: "Hi {{ customer.firstName }},\\n\\n20% off everything this week."
`,
    'newsletter.yaml': `
journey: newsletter
name: Newsletter
category: marketing
trigger: { event: newsletter.start }
entry: { reentry: always }
sending: { trackOpens: true }
steps:
  - id: issue
    type: send
    channel: email
    subject: "This week"
    text: "Read it at https://news.example/issue/7?utm=mail"
    html: '<p>Read <a href="https://news.example/issue/7?utm=mail&amp;x=1">issue 7</a> or <a data-rapport-track="off" href="https://news.example/plain">this</a>.</p>'
  - id: read
    type: wait_for
    event: email.clicked
    when: "event.data.step == 'issue'"
    timeout: 2d
    on_event:
      - id: thanks
        type: send
        channel: email
        subject: "Thanks for reading"
        text: "More next week."
`,
    'deals.yaml': `
journey: deals
name: Deals
category: marketing
topic: offers
trigger: { event: deals.start }
entry: { reentry: always }
steps:
  - id: deal
    type: send
    channel: email
    subject: "A deal for you"
    text: "Half price today."
`,
    'letter.yaml': `
journey: letter
name: Letter
category: marketing
topic: offers
trigger: { event: letter.start }
entry: { reentry: always }
steps:
  - id: letter
    type: send
    channel: email
    topic: newsletter
    subject: "Our letter"
    text: "News of the month."
`,
    'notice.yaml': `
journey: notice
name: Account notice
category: transactional
trigger: { event: notice.start }
entry: { reentry: always }
steps:
  - id: notice
    type: send
    channel: email
    subject: "Your account"
    text: "Your password was changed."
    html: "<p>Your password was <b>changed</b>, {{ customer.firstName }}.</p>"
`,
    'replies.yaml': `
journey: replies
name: Ticket replies
category: service
trigger: { event: comment.added }
entry: { reentry: always }
steps:
  - id: replies
    type: digest
    event: comment.added
    window: 1h
    max: 20
  - id: tell
    type: send
    channel: email
    template: support/replies-digest
`,
  });
});

afterAll(async () => {
  await stack?.close();
  await sink?.close();
  await env?.teardown();
});

let n = 0;
async function run(type: string, email: string, firstName = 'Ada') {
  const r = await stack.sendEvent({
    id: `${type}-${++n}-${Date.now()}`,
    type,
    customer: { email },
    profile: { firstName, consent: { email: { marketing: true } } },
  });
  const workflowId = r.enrolled[0]!.workflowId;
  const result = (await stack.temporal.workflow.getHandle(workflowId).result()) as JourneyResult;
  const ledger = await stack.db
    .selectFrom('send_ledger')
    .selectAll()
    .where('customer_id', '=', r.customerId)
    .orderBy('claimed_at', 'desc')
    .executeTakeFirst();
  return { customerId: r.customerId, result, ledger };
}

const header = (mail: ParsedMail, name: string) =>
  mail.headerLines.find((l) => l.key === name)?.line.replace(/^[^:]+:\s*/, '');

async function timeline(customerId: string) {
  const res = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` });
  return res.json<{ timeline: { kind: string; summary: string; data: Record<string, unknown> }[] }>().timeline;
}

const received = (to: string) =>
  sink.received.filter((m) => m.to && JSON.stringify(m.to).includes(`"address":"${to}"`));

test('a marketing email arrives with From, Reply-To, its Message-ID, both parts and one-click unsubscribe', async () => {
  const { customerId, result, ledger } = await run('promo.start', 'ada@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['offer:sent']);
  const [mail] = await sink.waitFor(1).then(() => received('ada@example.com'));
  expect(received('ada@example.com')).toHaveLength(1);
  expect(mail!.subject).toBe('Ada, spring is here');
  expect(mail!.from?.text).toBe('"Acme News" <news@acme.example>');
  expect(mail!.replyTo?.text).toBe('help@acme.example');
  const keyHash = createHash('sha256').update(ledger!.send_key).digest('hex').slice(0, 32);
  expect(mail!.messageId).toBe(`<${keyHash}@acme.example>`);

  // RFC 8058: an https link with the signed token, the POST header, and the same link in the body.
  const listUnsubscribe = header(mail!, 'list-unsubscribe');
  expect(listUnsubscribe).toMatch(new RegExp(`^<${TEST_PUBLIC_URL}/u/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+>$`));
  expect(header(mail!, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
  const link = listUnsubscribe!.slice(1, -1);
  expect(mail!.text).toContain('20% off everything this week.');
  expect(mail!.text).toContain(`Unsubscribe: ${link}`);
  expect(mail!.html).toContain(`<a href="${link}">Unsubscribe</a>`);
  expect(mail!.html).toContain('<p>Hi Ada,</p>');

  // A mail scanner following the link changes nothing: the page only offers buttons.
  const path = link.slice(TEST_PUBLIC_URL.length);
  const page = await stack.api.inject({ method: 'GET', url: path });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<button type="submit" name="action" value="leave" class="quiet">');
  expect(await consentFor(stack.db, customerId, 'email')).toMatchObject({ marketing: true });

  // The mailbox provider's one-click POST takes the customer off marketing email at once, whatever
  // form its body takes (RFC 8058 allows multipart/form-data as well as a urlencoded form).
  const boundary = '----rapport-test-boundary';
  const post = await stack.api.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
  });
  expect(post.statusCode).toBe(200);
  expect(await consentFor(stack.db, customerId, 'email')).toMatchObject({ marketing: false });
  expect((await timeline(customerId)).map((t) => t.summary)).toContain(
    'email marketing consent withdrawn (one-click, unsubscribe)',
  );
  // A repeat is harmless, in any form.
  expect((await stack.api.inject({ method: 'POST', url: path })).statusCode).toBe(200);
  for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
    const repeat = await stack.api.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': type },
      payload: 'List-Unsubscribe=One-Click',
    });
    expect(repeat.statusCode).toBe(200);
  }

  // The next marketing email is not sent: the withdrawal is what is on record.
  const again = await stack.sendEvent({
    id: `promo-again-${Date.now()}`,
    type: 'promo.start',
    customer: { email: 'ada@example.com' },
  });
  const second = (await stack.temporal.workflow.getHandle(again.enrolled[0]!.workflowId).result()) as JourneyResult;
  expect(second.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['offer:skipped']);
  expect(received('ada@example.com')).toHaveLength(1);
  // The journey's report counts the unsubscribe once, against the step whose email carried the link,
  // and the second offer as held back for want of consent.
  const report = (await stack.api.inject({ method: 'GET', url: '/v1/journeys/promo/report' })).json<JourneyReport>();
  expect(report.unsubscribes).toEqual([{ step: 'offer', channel: 'email', count: 1 }]);
  expect(report.messages).toEqual(
    expect.arrayContaining([{ channel: 'email', status: 'skipped', heldBy: 'consent', count: 1 }]),
  );
});

test("the unsubscribe link opens the preference page in the customer's language; a topic left holds only that topic", async () => {
  const email = 'marie@example.com';
  const start = async (type: string) => {
    const r = await stack.sendEvent({
      id: `${type}-${++n}-${Date.now()}`,
      type,
      customer: { email },
      profile: { firstName: 'Marie', locale: 'fr-CA', consent: { email: { marketing: true } } },
    });
    const result = (await stack.temporal.workflow.getHandle(r.enrolled[0]!.workflowId).result()) as JourneyResult;
    return { customerId: r.customerId, outcomes: result.history.map((h) => `${h.stepId}:${h.outcome}`) };
  };
  const { customerId, outcomes } = await start('deals.start');
  expect(outcomes).toEqual(['deal:sent']);
  const deal = await eventually('the deal', () => received(email)[0]);
  const path = header(deal, 'list-unsubscribe')!.slice(1 + TEST_PUBLIC_URL.length, -1);

  // The page, in French: a box per topic, each ticked, and the address nowhere.
  const page = await stack.api.inject({ method: 'GET', url: path });
  expect(page.statusCode).toBe(200);
  expect(page.body).toContain('<html lang="fr">');
  expect(page.body).toContain('Enregistrer mes choix');
  expect(page.body).toContain('value="offers" checked> Offres et promotions');
  expect(page.body).toContain('value="newsletter" checked> Notre lettre d&#39;information');
  expect(page.body).toContain('value="product-updates" checked> Nouveautés et conseils');
  expect(page.body).not.toContain('marie@');

  // The form posts back to the link: offers left, the rest kept.
  const saved = await stack.api.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'page=preferences&topic=newsletter&topic=product-updates&action=save',
  });
  expect(saved.statusCode).toBe(200);
  expect(saved.body).toContain('Vos préférences d&#39;e-mail sont enregistrées.');

  // The next offer is held back, saying why; the newsletter still goes.
  expect((await start('deals.start')).outcomes).toEqual(['deal:skipped']);
  expect((await start('letter.start')).outcomes).toEqual(['letter:sent']);
  const letter = await eventually('the letter', () => received(email).find((m) => m.subject === 'Our letter'));
  expect(received(email)).toHaveLength(2);
  const explained = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}/explain?journey=deals` });
  expect(
    explained.json<{ enrollments: { messages: { outcome: string; why: string }[] }[] }>().enrollments[1]!.messages,
  ).toEqual([
    expect.objectContaining({ outcome: 'skipped', why: 'topic offers left by the customer on email', topic: 'offers' }),
  ]);

  // One click on the letter's link leaves its topic (the step's own, newsletter), and only that.
  const letterPath = header(letter, 'list-unsubscribe')!.slice(1 + TEST_PUBLIC_URL.length, -1);
  const clicked = await stack.api.inject({
    method: 'POST',
    url: letterPath,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'List-Unsubscribe=One-Click',
  });
  expect(clicked.statusCode).toBe(200);
  const detail = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` });
  expect(detail.json<{ customer: { consent: unknown; topics: unknown } }>().customer).toMatchObject({
    consent: { email: { marketing: true } },
    topics: { email: { offers: false, newsletter: false } },
  });
  expect((await timeline(customerId)).map((t) => t.summary)).toEqual(
    expect.arrayContaining([
      'email topic offers left (preference page, unsubscribe)',
      'email topic newsletter left (one-click, unsubscribe)',
    ]),
  );
  expect((await start('letter.start')).outcomes).toEqual(['letter:skipped']);
});

test('a tampered or foreign unsubscribe token is refused and changes nothing', async () => {
  const { customerId } = await run('promo.start', 'grace@example.com', 'Grace');
  const mail = (await sink.waitFor(1).then(() => received('grace@example.com')))[0]!;
  const path = header(mail, 'list-unsubscribe')!.slice(1 + TEST_PUBLIC_URL.length, -1);
  const [body, sig] = path.slice('/u/'.length).split('.') as [string, string];
  const tampered = `/u/${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
  const foreign = `/u/${signUnsubscribe(unsubscribeKeys('an-instance-we-do-not-know-about-at-all'), {
    customerId,
    sendKeyHash: 'x',
  })}`;
  for (const url of [tampered, foreign, '/u/garbage-token-value']) {
    const res = await stack.api.inject({
      method: 'POST',
      url,
      payload: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('This unsubscribe link is not valid');
    expect((await stack.api.inject({ method: 'GET', url })).statusCode).toBe(400);
  }
  expect(await consentFor(stack.db, customerId, 'email')).toMatchObject({ marketing: true });
});

test('a transactional email carries no unsubscribe header and keeps its own HTML', async () => {
  await run('notice.start', 'lin@example.com', 'Lin');
  const mail = (await sink.waitFor(1).then(() => received('lin@example.com')))[0]!;
  expect(header(mail, 'list-unsubscribe')).toBeUndefined();
  expect(mail.html).toBe('<p>Your password was <b>changed</b>, Lin.</p>');
  expect(mail.from?.text).toBe('"Rapport Test" <journeys@rapport.test>');
});

/** What a customer has on record that a send would change: ledger rows, timeline entries, sends counted by caps. */
async function footprint(customerId: string) {
  const ledger = await stack.db.selectFrom('send_ledger').select('send_key').execute();
  return {
    ledger: ledger.map((r) => r.send_key).sort(),
    timeline: (await timeline(customerId)).length,
    capped: await recentSends(stack.db, customerId, new Date(0)),
  };
}

/** The unsubscribe token of a link, which differs from one message to the next. */
const withoutToken = (text: string | false | undefined) => String(text).replace(/\/u\/[A-Za-z0-9_.-]+/g, '/u/TOKEN');

test('a preview shows what a real send of the step gave the customer: headers, subject, text and HTML', async () => {
  const { customerId } = await run('promo.start', 'preview-ada@example.com', 'Ada');
  const mail = await eventually('the real email', () => received('preview-ada@example.com')[0]);
  const res = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/promo/steps/offer/preview',
    payload: { customer: { email: 'preview-ada@example.com' } },
  });
  expect(res.statusCode).toBe(200);
  const preview = res.json<MessagePreview>();
  expect(preview).toMatchObject({ journey: 'promo', version: 1, step: 'offer', customerId, channel: 'email' });
  const email = preview.email!;
  expect(email.subject).toBe(mail.subject);
  expect(email.from).toBe('Acme News <news@acme.example>');
  expect(email.replyTo).toBe('help@acme.example');
  expect(email.headers).toEqual({
    'List-Unsubscribe': `<${TEST_PUBLIC_URL}/u/preview>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  });
  expect(email.tracking).toEqual({ clicks: true, opens: false });
  // The same parts, but for the unsubscribe link's token (a preview's is inert).
  expect(withoutToken(email.text).trim()).toBe(withoutToken(mail.text).trim());
  expect(withoutToken(email.html)).toBe(withoutToken(mail.html));
  // An inert link: the unsubscribe page refuses it.
  expect((await stack.api.inject({ method: 'GET', url: '/u/preview' })).statusCode).toBe(400);

  // A transactional step, for made-up facts: exactly the HTML a real send of it makes.
  const notice = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/notice/steps/notice/preview',
    payload: { customer: { facts: { firstName: 'Lin' } } },
  });
  expect(notice.json<MessagePreview>()).toMatchObject({
    customerId: null,
    channel: 'email',
    unreachable: 'no email address',
    email: {
      subject: 'Your account',
      html: '<p>Your password was <b>changed</b>, Lin.</p>',
      from: 'Rapport Test <journeys@rapport.test>',
      headers: {},
    },
  });
});

test('a test send arrives marked as a test and changes nothing of the customer it was made for', async () => {
  const { customerId } = await run('promo.start', 'tested-ada@example.com', 'Ada');
  await eventually('the real email', () => received('tested-ada@example.com')[0]);
  const before = await footprint(customerId);
  const res = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/promo/steps/offer/send-test',
    payload: { customer: { email: 'tested-ada@example.com' }, to: 'reviewer@acme.example' },
  });
  expect(res.statusCode).toBe(200);
  expect(res.json<TestSend>()).toMatchObject({ channel: 'email', to: 'reviewer@acme.example' });
  const mail = await eventually('the test email', () => received('reviewer@acme.example')[0]);
  expect(mail.subject).toBe('[TEST] Ada, spring is here');
  expect(header(mail, 'x-rapport-test')).toBe('1');
  expect(header(mail, 'list-unsubscribe')).toBe(`<${TEST_PUBLIC_URL}/u/preview>`);
  expect(mail.text).toContain('Hi Ada,');
  expect(mail.messageId).toMatch(/^<test-[0-9a-f]{32}@acme\.example>$/);
  expect(received('tested-ada@example.com')).toHaveLength(1);
  // No ledger row (anyone's), no timeline entry, nothing more counted toward the frequency cap.
  expect(await footprint(customerId)).toEqual(before);

  // Refused before anything is sent: an address that is neither, a step that is not a send, one that is not there.
  const bad = async (url: string, payload: object) => {
    const r = await stack.api.inject({ method: 'POST', url, payload });
    return { status: r.statusCode, detail: r.json<{ detail: string }>().detail };
  };
  const customer = { facts: { firstName: 'Ada' } };
  expect(await bad('/v1/journeys/promo/steps/offer/send-test', { customer, to: 'not an address' })).toMatchObject({
    status: 422,
    detail: expect.stringContaining('expected an email address or a phone number') as string,
  });
  expect(await bad('/v1/journeys/promo/steps/offer/send-test', { customer, to: '+14155550100' })).toMatchObject({
    status: 422,
    detail: 'step offer sends no sms: give an email address',
  });
  expect(await bad('/v1/journeys/newsletter/steps/read/preview', { customer })).toEqual({
    status: 422,
    detail: 'step read is a wait_for step, not a send: only a send step has a message to preview',
  });
  expect(await bad('/v1/journeys/newsletter/steps/nope/preview', { customer })).toEqual({
    status: 404,
    detail: 'journey newsletter version 1 has no step nope; its steps: issue, read, thanks',
  });
  expect(
    (await bad('/v1/journeys/promo/steps/offer/preview', { customer: { email: 'nobody-here@example.com' } })).status,
  ).toBe(404);
  expect(sink.received.filter((m) => m.subject?.startsWith('[TEST]'))).toHaveLength(1);
});

test('a 4xx reply is retried with backoff, and the message arrives once', async () => {
  const before = sink.transactions;
  sink.faults.push({ refuse: 451 });
  const { result, ledger } = await run('notice.start', 'retry4xx@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:sent']);
  expect(sink.transactions - before).toBe(2);
  expect(received('retry4xx@example.com')).toHaveLength(1);
  expect(ledger).toMatchObject({ state: 'sent', attempt: 2 });
});

test('a connection dropped before the message is retried, and the message arrives once', async () => {
  const before = sink.transactions;
  sink.faults.push({ drop: true });
  const { result, ledger } = await run('notice.start', 'dropped@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:sent']);
  expect(sink.transactions - before).toBe(2);
  expect(received('dropped@example.com')).toHaveLength(1);
  expect(ledger).toMatchObject({ state: 'sent', attempt: 2 });
});

test('a 5xx is permanent: recorded, not retried, and a hard bounce suppresses the address', async () => {
  const before = sink.transactions;
  sink.faults.push({ refuse: 550, at: 'rcpt' });
  const { customerId, result, ledger } = await run('notice.start', 'nobody@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:failed']);
  expect(sink.transactions - before).toBe(1);
  expect(received('nobody@example.com')).toHaveLength(0);
  expect(ledger).toMatchObject({ state: 'failed_permanent', attempt: 1 });
  expect(await activeSuppression(stack.db, customerId, 'email')).toBe('hard_bounce');
  expect((await timeline(customerId)).find((t) => t.kind === 'message')).toMatchObject({
    data: { status: 'failed', code: 550 },
  });

  // Nothing more goes to a bounced address, not even transactional mail.
  const next = await run('notice.start', 'nobody@example.com');
  expect(next.result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:skipped']);
  expect(sink.transactions - before).toBe(1);
});

test('a reply slower than the client waits leaves the outcome unknown, and nothing is sent twice', async () => {
  const before = sink.transactions;
  sink.faults.push({ replyAfterMs: CLIENT_TIMEOUT_MS + 2000 });
  const { customerId, result, ledger } = await run('notice.start', 'slow@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:failed']);
  expect(ledger).toMatchObject({ state: 'unknown', attempt: 1 });
  expect(ledger!.last_error).toMatch(/no reply after the message was handed over/);
  expect((await timeline(customerId)).find((t) => t.kind === 'message')?.summary).toBe('email outcome unknown');
  // The journey has ended and the ledger shows one attempt, so nothing will try again. A later message
  // through the same mailer proves no second attempt slipped in before it: the server holds one copy.
  await run('notice.start', 'after-slow@example.com');
  expect(received('after-slow@example.com')).toHaveLength(1);
  expect(received('slow@example.com')).toHaveLength(1);
  expect(sink.transactions - before).toBe(2);
});

test('a connection closed after the message went out, before the reply, is not retried either', async () => {
  const before = sink.transactions;
  sink.faults.push({ dropAfterData: true });
  const { result, ledger } = await run('notice.start', 'closed@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:failed']);
  expect(ledger).toMatchObject({ state: 'unknown', attempt: 1 });
  await run('notice.start', 'after-closed@example.com');
  expect(received('after-closed@example.com')).toHaveLength(1);
  expect(received('closed@example.com')).toHaveLength(1);
  expect(sink.transactions - before).toBe(2);
});

test('a server that keeps refusing is not retried forever: the send is recorded as failed', async () => {
  const before = sink.transactions;
  for (let i = 0; i < 12; i++) sink.faults.push({ refuse: 421 });
  const { customerId, result, ledger } = await run('notice.start', 'busy@example.com');
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['notice:failed']);
  expect(sink.transactions - before).toBe(12);
  expect(ledger).toMatchObject({ state: 'failed_permanent', attempt: 12 });
  expect(ledger!.last_error).toMatch(/^gave up after 12 attempts/);
  expect((await timeline(customerId)).find((t) => t.kind === 'message')?.summary).toMatch(
    /^email failed: gave up after 12 attempts/,
  );
  expect(received('busy@example.com')).toHaveLength(0);
  sink.faults.length = 0;
});

test('links are tracked: a signed redirect records the click, moves a journey waiting for it, and goes nowhere else', async () => {
  const r = await stack.sendEvent({
    id: `newsletter-${Date.now()}`,
    type: 'newsletter.start',
    customer: { email: 'reader@example.com' },
    profile: { consent: { email: { marketing: true } } },
  });
  const handle = stack.temporal.workflow.getHandle(r.enrolled[0]!.workflowId);
  await sink.waitFor(sink.received.length + 1);
  const [mail] = received('reader@example.com');
  const html = String(mail!.html);
  const tracked = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
  expect(tracked[0]).toMatch(new RegExp(`^${TEST_PUBLIC_URL}/l/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
  // A link marked off stays as written, without the mark.
  expect(tracked[1]).toBe('https://news.example/plain');
  expect(html).not.toContain('data-rapport-track');
  expect(mail!.text).not.toContain('https://news.example/issue/7');
  expect(mail!.text).toMatch(new RegExp(`Read it at ${TEST_PUBLIC_URL}/l/\\S+`));
  const pixel = /<img src="([^"]+)"/.exec(html)![1]!;
  expect(pixel).toMatch(new RegExp(`^${TEST_PUBLIC_URL}/o/`));

  const path = tracked[0]!.slice(TEST_PUBLIC_URL.length);
  const click = await stack.api.inject({ method: 'GET', url: path });
  expect(click.statusCode).toBe(302);
  expect(click.headers.location).toBe('https://news.example/issue/7?utm=mail&x=1');
  // The address is bound by the signature: a token changed to lead elsewhere is refused, not followed.
  const [body, sig] = path.slice('/l/'.length).split('.') as [string, string];
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { u: string };
  const forged = Buffer.from(JSON.stringify({ ...payload, u: 'https://evil.example/' })).toString('base64url');
  const refused = await stack.api.inject({ method: 'GET', url: `/l/${forged}.${sig}` });
  expect(refused.statusCode).toBe(404);
  expect(refused.headers.location).toBeUndefined();
  // This instance's own unsubscribe token is not a link token.
  const unsub = signUnsubscribe(unsubscribeKeys(TEST_UNSUBSCRIBE_SECRET), {
    customerId: r.customerId,
    sendKeyHash: 'x',
  });
  expect((await stack.api.inject({ method: 'GET', url: `/l/${unsub}` })).statusCode).toBe(404);

  const open = await stack.api.inject({ method: 'GET', url: pixel.slice(TEST_PUBLIC_URL.length) });
  expect(open.statusCode).toBe(200);
  expect(open.headers['content-type']).toBe('image/gif');

  // The journey waiting for the click goes on.
  const result = (await handle.result()) as JourneyResult;
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['issue:sent', 'read:event', 'thanks:sent']);
  // A second click redirects again and counts nothing more.
  expect((await stack.api.inject({ method: 'GET', url: path })).statusCode).toBe(302);
  const summaries = (await timeline(r.customerId)).map((t) => t.summary);
  expect(summaries.filter((t) => t === 'email link clicked: news.example')).toHaveLength(1);
  expect(summaries).toContain('email opened');
  const report = (
    await stack.api.inject({ method: 'GET', url: '/v1/journeys/newsletter/report' })
  ).json<JourneyReport>();
  expect(report.messages).toEqual(
    expect.arrayContaining([
      { channel: 'email', status: 'clicked', heldBy: null, count: 1 },
      { channel: 'email', status: 'opened', heldBy: null, count: 1 },
    ]),
  );
  // The report says what opens are worth.
  expect(report.notes.join(' ')).toMatch(/^Opens overstate readers: mail privacy proxies/);
});

test('a transactional email is not tracked unless its journey asks', async () => {
  await run('notice.start', 'plain@example.com');
  const [mail] = received('plain@example.com');
  expect(String(mail!.html)).not.toContain('/l/');
  expect(String(mail!.html)).not.toContain('<img');
});

/** A POST to Rapport's own email webhook, signed (or not) as a provider's adapter would. */
function emailWebhook(body: unknown, options: { secret?: string; ageS?: number } = {}) {
  const payload = JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000) - (options.ageS ?? 0));
  const signature = createHmac('sha256', options.secret ?? WEBHOOK_SECRET)
    .update(`${timestamp}.${payload}`)
    .digest('hex');
  return stack.api.inject({
    method: 'POST',
    url: '/webhooks/email',
    headers: {
      'content-type': 'application/json',
      'x-rapport-timestamp': timestamp,
      'x-rapport-signature': `sha256=${signature}`,
    },
    payload,
  });
}

const promoReport = async () =>
  (await stack.api.inject({ method: 'GET', url: '/v1/journeys/promo/report' })).json<JourneyReport>();
const counted = (r: JourneyReport, status: string) =>
  r.messages.find((m) => m.channel === 'email' && m.status === status)?.count ?? 0;

test('a hard bounce reported later through the signed webhook suppresses the address and counts in the report, once', async () => {
  const { customerId } = await run('promo.start', 'gone@example.com');
  const [mail] = received('gone@example.com');
  const before = await promoReport();
  const bounce = {
    events: [
      {
        type: 'bounce',
        bounce: 'hard',
        email: 'gone@example.com',
        messageId: mail!.messageId,
        reason: '550 5.1.1 no such user',
      },
    ],
  };
  // Unsigned, signed with another secret, or too old: refused, and nothing changes.
  const unsigned = await stack.api.inject({ method: 'POST', url: '/webhooks/email', payload: bounce });
  expect(unsigned.statusCode).toBe(401);
  expect((await emailWebhook(bounce, { secret: 'another-secret-of-at-least-32-characters' })).statusCode).toBe(401);
  expect((await emailWebhook(bounce, { ageS: 600 })).statusCode).toBe(401);
  expect(await activeSuppression(stack.db, customerId, 'email')).toBeUndefined();

  expect((await emailWebhook(bounce)).statusCode).toBe(204);
  expect((await emailWebhook(bounce)).statusCode).toBe(204);
  expect(await activeSuppression(stack.db, customerId, 'email')).toBe('hard_bounce');
  expect((await timeline(customerId)).map((t) => t.summary)).toContain('email bounced (hard): 550 5.1.1 no such user');
  expect(counted(await promoReport(), 'bounced')).toBe(counted(before, 'bounced') + 1);
  // A malformed event is refused with what was wrong.
  const bad = await emailWebhook({ events: [{ type: 'bounce', email: 'not-an-address' }] });
  expect(bad.statusCode).toBe(422);
  expect(bad.body).toContain('events.0.email');
});

test("a spam complaint in Mailgun's shape, signed with its key, suppresses the address and counts", async () => {
  const { customerId } = await run('promo.start', 'annoyed@example.com');
  const [mail] = received('annoyed@example.com');
  const before = await promoReport();
  const timestamp = String(Math.floor(Date.now() / 1000));
  const token = 'a'.repeat(50);
  const event = (signature: string) => ({
    signature: { timestamp, token, signature },
    'event-data': {
      event: 'complained',
      recipient: 'annoyed@example.com',
      timestamp: Number(timestamp),
      message: { headers: { 'message-id': mail!.messageId!.replace(/^<|>$/g, '') } },
    },
  });
  const forged = await stack.api.inject({ method: 'POST', url: '/webhooks/mailgun', payload: event('0'.repeat(64)) });
  expect(forged.statusCode).toBe(401);
  const signature = createHmac('sha256', MAILGUN_KEY).update(`${timestamp}${token}`).digest('hex');
  const ok = await stack.api.inject({ method: 'POST', url: '/webhooks/mailgun', payload: event(signature) });
  expect(ok.statusCode).toBe(204);
  expect(await activeSuppression(stack.db, customerId, 'email')).toBe('complaint');
  expect(counted(await promoReport(), 'complained')).toBe(counted(before, 'complained') + 1);
});

test('three comments within the digest window give one email that lists the three', async () => {
  const to = 'ticket@example.com';
  const comment = (i: number, author: string, text: string) =>
    stack.sendEvent({
      id: `comment-${i}-${Date.now()}`,
      type: 'comment.added',
      customer: { email: to },
      profile: { firstName: 'Tess' },
      data: { ticket: 'T-7', author, text },
    });
  const first = await comment(1, 'Sam', 'We are looking into it.');
  expect(first.enrolled.map((e) => e.journey)).toEqual(['replies']);
  // The next ones go to the digest that runs, and start no other run.
  for (const [i, author, text] of [
    [2, 'Ana', 'Could you send a screenshot?'],
    [3, 'Sam', 'Fixed in the next release.'],
  ] as const) {
    const r = await comment(i, author, text);
    expect(r.signalled.map((s) => s.journey)).toEqual(['replies']);
    expect(r.enrolled).toEqual([]);
  }
  const result = (await stack.temporal.workflow.getHandle(first.enrolled[0]!.workflowId).result()) as JourneyResult;
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['replies:digested', 'tell:sent']);
  expect(result.history[0]!.result).toEqual({ kind: 'digest', status: 'closed', event: 'comment.added', count: 3 });

  const mail = await eventually('the digest email', () => received(to)[0]);
  expect(received(to)).toHaveLength(1);
  expect(mail.subject).toBe('3 new replies to your ticket');
  expect(mail.text?.replace(/\r\n/g, '\n')).toContain(
    [
      'There are 3 new replies to your ticket:',
      '',
      '- Sam: We are looking into it.',
      '- Ana: Could you send a screenshot?',
      '- Sam: Fixed in the next release.',
    ].join('\n'),
  );
});

test("a template's locale variant, published through the API, reaches a fr-CA customer in French", async () => {
  const source = `
journey: bonjour
name: Hello in their language
category: transactional
trigger: { event: bonjour.start }
entry: { reentry: always }
steps:
  - id: hello
    type: send
    channel: email
    template: welcome/hello
`;
  const compiled = compileJourney(source, 'bonjour.yaml', {
    readTemplate: templateReader(builtinTemplatesDir),
    templateLocales: templateLocalesReader(builtinTemplatesDir),
    liquid: liquidChecker,
  });
  if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
  const plan = toPlan(compiled.journey);
  expect(Object.keys(plan.templates).sort()).toEqual(['email:welcome/hello', 'email:welcome/hello@fr']);
  const publish = (body: typeof plan) =>
    stack.api.inject({
      method: 'POST',
      url: '/v1/journeys/publish',
      payload: { plan: body, source, sourcePath: null },
    });

  // The server checks the variant as the command line does: one that forgets the name is a warning.
  const forgetful = {
    ...plan,
    templates: { ...plan.templates, 'email:welcome/hello@fr': { subject: 'Bienvenue !', text: 'Bonjour.' } },
  };
  const dry = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/publish',
    payload: { plan: forgetful, source, sourcePath: null, dryRun: true },
  });
  expect(dry.statusCode).toBe(200);
  expect(dry.json<{ warnings: string[] }>().warnings).toEqual([
    expect.stringContaining('welcome/hello.email.fr.yaml does not read customer.firstName'),
  ]);
  expect((await publish(plan)).statusCode).toBe(201);

  const to = 'zoe@example.ca';
  const r = await stack.sendEvent({
    id: `bonjour-${Date.now()}`,
    type: 'bonjour.start',
    customer: { email: to },
    profile: { firstName: 'Zoé', locale: 'fr-CA' },
  });
  const result = (await stack.temporal.workflow.getHandle(r.enrolled[0]!.workflowId).result()) as JourneyResult;
  expect(result.history.map((h) => `${h.stepId}:${h.outcome}`)).toEqual(['hello:sent']);
  const mail = await eventually('the French email', () => received(to)[0]);
  expect(mail.subject).toBe('Bienvenue, Zoé !');
  expect(mail.text).toContain('Bonjour Zoé,');
  const sent = (await timeline(r.customerId)).find((t) => t.summary.startsWith('email sent'));
  expect(sent?.data).toMatchObject({ template: 'welcome/hello', locale: 'fr' });

  // The preview takes the same variant, and says so.
  const preview = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/bonjour/steps/hello/preview',
    payload: { customer: { email: to } },
  });
  expect(preview.json<MessagePreview>()).toMatchObject({ locale: 'fr', email: { subject: 'Bienvenue, Zoé !' } });
});

test("a sender's sending limit holds across concurrent sends: the relay gets them no faster than the rate", async () => {
  // 2/s with a burst of 2: three sends at once take their tokens due at 0, 0 and 500 ms at the least.
  const start = Date.now();
  const to = ['rate-1@example.com', 'rate-2@example.com', 'rate-3@example.com'];
  await Promise.all(
    to.map((email, i) =>
      stack.sendEvent({ id: `limited-${i}-${start}`, type: 'limited.start', customer: { email }, data: {} }),
    ),
  );
  await eventually('the three emails of the limited sender', () =>
    to.every((email) => received(email).length === 1) ? true : undefined,
  );
  // Lower bounds only, which no slow machine can break: the last arrived half a second after the
  // start at the soonest, and the bucket was pushed on by three tokens of 500 ms each.
  const arrivals = to.map((email) => sink.arrivedAt[sink.received.indexOf(received(email)[0]!)]!).sort((a, b) => a - b);
  expect(arrivals[2]! - start).toBeGreaterThanOrEqual(500);
  const bucket = await stack.db
    .selectFrom('send_rate_buckets')
    .select('paid_at')
    .where('key', '=', 'email:limited@acme.example')
    .executeTakeFirstOrThrow();
  expect(bucket.paid_at).toBeGreaterThanOrEqual(start + 1500);
});
