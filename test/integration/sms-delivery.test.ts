/**
 * SMS for real: journeys on the time-skipping server send through the real `twilio` SDK to a
 * loopback stand-in of Twilio's Messages API, which injects 429, 500, invalid numbers, unsubscribed
 * recipients and replies slower than the client waits. Twilio's webhooks (inbound STOP/START/HELP and
 * status callbacks) are posted signed, unsigned and forged.
 */
import type { JourneyReport } from '../../client/server/journeys/report';
import { createHash } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import twilio from 'twilio';
import { activeSuppression } from '../../activities/store/consent';
import type { MessagePreview, TestSend } from '../../activities/previews';
import type { JourneyResult } from '../../workflows/types';
import { startTestStack, TEST_PUBLIC_URL, TEST_SMS_HELP, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { startTwilioStandIn, TWILIO_TEST_NUMBERS, type TwilioStandIn } from '../helpers/twilio-standin';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let standIn: TwilioStandIn;
const logLines: string[] = [];

/** The SDK waits this long for Twilio's answer. */
const CLIENT_TIMEOUT_MS = 1000;

beforeAll(async () => {
  env = await timeSkippingEnv();
  standIn = await startTwilioStandIn();
  stack = await startTestStack(env, {
    journeysDirs: [],
    twilio: { ...standIn, timeoutMs: CLIENT_TIMEOUT_MS },
    logger: pino({ level: 'info' }, { write: (line: string) => logLines.push(line) }),
  });
  await stack.publish({
    'shipped.yaml': `
journey: shipped
name: Order shipped
category: transactional
trigger: { event: order.shipped }
entry: { reentry: always }
steps:
  - id: notice
    type: send
    channel: sms
    text: "Your order {{ event.data.orderId }} has shipped."
`,
    'party.yaml': `
journey: party
name: Party invitation
category: service
trigger: { event: party.invite }
entry: { reentry: always }
steps:
  - id: invite
    type: send
    channel: sms
    text: "Merci {{ customer.firstName }} ! 🎉 Vous êtes invité(e) à notre fête de lancement, jeudi à 19 h. Répondez OUI pour confirmer votre présence."
`,
    'reminder.yaml': `
journey: reminder
name: Appointment reminder
category: service
trigger: { event: appointment.booked }
steps:
  - id: remind
    type: send
    channel: preferred
    email: { subject: "Your appointment", text: "See you on {{ event.data.day }}." }
    sms: { text: "See you on {{ event.data.day }}, {{ customer.firstName }}." }
`,
  });
});

afterAll(async () => {
  await stack?.close();
  await standIn?.close();
  await env?.teardown();
});

let n = 0;
async function run(type: string, phone: string, data: Record<string, unknown> = { orderId: 'A-1' }) {
  const r = await stack.sendEvent({
    id: `${type}-${++n}-${Date.now()}`,
    type,
    customer: { phone },
    profile: { firstName: 'Zoé' },
    data,
  });
  const result = (await stack.temporal.workflow.getHandle(r.enrolled[0]!.workflowId).result()) as JourneyResult;
  const ledger = await stack.db
    .selectFrom('send_ledger')
    .selectAll()
    .where('customer_id', '=', r.customerId)
    .orderBy('claimed_at', 'desc')
    .executeTakeFirst();
  return { customerId: r.customerId, result, ledger, outcomes: result.history.map((h) => `${h.stepId}:${h.outcome}`) };
}

async function messageEntries(customerId: string) {
  const res = await stack.api.inject({ method: 'GET', url: `/v1/customers/${customerId}` });
  return res
    .json<{ timeline: { kind: string; summary: string; data: Record<string, unknown> }[] }>()
    .timeline.filter((t) => t.kind === 'message');
}

const to = (phone: string) => standIn.messages.filter((m) => m.to === phone);

/** Posts a Twilio webhook, signed with the account's token ('valid'), another token, or unsigned ('none'). */
function webhook(path: string, params: Record<string, string>, sign = 'valid') {
  const signature =
    sign === 'none'
      ? undefined
      : twilio.getExpectedTwilioSignature(
          sign === 'valid' ? standIn.authToken : sign,
          `${TEST_PUBLIC_URL}${path}`,
          params,
        );
  return stack.api.inject({
    method: 'POST',
    url: path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature ? { 'x-twilio-signature': signature } : {}),
    },
    payload: new URLSearchParams(params).toString(),
  });
}

let inbound = 0;
const reply = (from: string, body: string, sign?: string) =>
  webhook(
    '/webhooks/twilio/inbound',
    { MessageSid: `SM${++inbound}inbound`, From: from, To: standIn.from, Body: body },
    sign,
  );

test('an SMS goes out through the twilio SDK, with its status callback, segments and encoding recorded', async () => {
  const phone = '+14155550101';
  const { customerId, outcomes, ledger } = await run('order.shipped', phone, { orderId: 'A-1001' });
  expect(outcomes).toEqual(['notice:sent']);
  const [message] = to(phone);
  expect(to(phone)).toHaveLength(1);
  expect(message).toMatchObject({ from: standIn.from, body: 'Your order A-1001 has shipped.' });
  const keyHash = createHash('sha256').update(ledger!.send_key).digest('hex').slice(0, 32);
  expect(message!.statusCallback).toBe(`${TEST_PUBLIC_URL}/webhooks/twilio/status?k=${keyHash}`);
  expect(ledger).toMatchObject({ state: 'sent', provider_ref: message!.sid, attempt: 1 });
  const [entry] = await messageEntries(customerId);
  expect(entry).toMatchObject({
    summary: 'sms sent: Your order A-1001 has shipped.',
    data: { status: 'sent', providerRef: message!.sid, encoding: 'GSM-7', segments: 1 },
  });
});

test('a message with characters outside GSM-7 is recorded as UCS-2, in as many segments as it takes', async () => {
  const { customerId, outcomes } = await run('party.invite', '+14155550102');
  expect(outcomes).toEqual(['invite:sent']);
  const [entry] = await messageEntries(customerId);
  // About 130 UTF-16 units: more than one UCS-2 segment (70) holds, within two (2 × 67).
  expect(entry!.data).toMatchObject({ encoding: 'UCS-2', segments: 2 });
});

test('an SMS preview shows the text a real send gave the customer, its encoding and segments; a test send reaches Twilio', async () => {
  const phone = '+14155550161';
  const { customerId } = await run('party.invite', phone);
  const [real] = to(phone);
  const res = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/party/steps/invite/preview',
    payload: { customer: { phone } },
  });
  expect(res.statusCode).toBe(200);
  const preview = res.json<MessagePreview>();
  expect(preview).toMatchObject({ customerId, channel: 'sms', why: 'the step sends sms' });
  expect(preview.sms).toEqual({
    text: real!.body,
    characters: [...real!.body].length,
    encoding: 'UCS-2',
    segments: 2,
  });

  const entries = await messageEntries(customerId);
  const ledger = await stack.db.selectFrom('send_ledger').select('send_key').execute();
  const sent = await stack.api.inject({
    method: 'POST',
    url: '/v1/journeys/party/steps/invite/send-test',
    payload: { customer: { phone }, to: '+14155550162' },
  });
  expect(sent.statusCode).toBe(200);
  const test = sent.json<TestSend>();
  const [message] = to('+14155550162');
  expect(to('+14155550162')).toHaveLength(1);
  expect(message).toMatchObject({ from: standIn.from, body: `[TEST] ${real!.body}`, sid: test.providerRef });
  expect(message!.statusCallback).toMatch(/\?k=test-[0-9a-f]{32}$/);
  expect(test.preview.sms).toMatchObject({ text: `[TEST] ${real!.body}`, encoding: 'UCS-2' });
  // Nothing recorded for the customer, nor any ledger row: a test send claims nothing.
  expect(to(phone)).toHaveLength(1);
  expect(await messageEntries(customerId)).toEqual(entries);
  expect(await stack.db.selectFrom('send_ledger').select('send_key').execute()).toEqual(ledger);
});

test('a preferred-channel step previews the channel the customer would get, and says why', async () => {
  const preview = async (facts: Record<string, unknown>) => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/v1/journeys/reminder/steps/remind/preview',
      payload: { customer: { facts }, event: { day: 'Friday' } },
    });
    expect(res.statusCode).toBe(200);
    return res.json<MessagePreview>();
  };
  const both = { email: 'kai@example.com', phone: '+14155550171', firstName: 'Kai' };
  expect(await preview({ ...both, preferredChannel: 'sms' })).toMatchObject({
    channel: 'sms',
    why: "the customer's preferred channel is sms",
    sms: { text: 'See you on Friday, Kai.', encoding: 'GSM-7', segments: 1 },
  });
  expect(await preview(both)).toMatchObject({
    channel: 'email',
    why: 'the customer has no preferred channel, and email comes first',
    email: { subject: 'Your appointment', text: 'See you on Friday.' },
  });
  expect(await preview({ phone: both.phone, firstName: 'Kai', preferredChannel: 'email' })).toMatchObject({
    channel: 'sms',
    why: 'the customer prefers email, but the customer has no email address',
  });
  const nobody = await preview({ firstName: 'Kai' });
  expect(nobody).toMatchObject({ channel: 'email', unreachable: 'no reachable channel' });
});

test.each([
  ['429', 429],
  ['500', 500],
  ['503', 503],
])('a %s from Twilio is retried with backoff, and one message is created', async (_name, status) => {
  const phone = `+1415555${String(status).padStart(4, '0')}`;
  const before = standIn.creates;
  standIn.faults.push({ status });
  const { outcomes, ledger } = await run('order.shipped', phone);
  expect(outcomes).toEqual(['notice:sent']);
  expect(standIn.creates - before).toBe(2);
  expect(to(phone)).toHaveLength(1);
  expect(ledger).toMatchObject({ state: 'sent', attempt: 2, provider_ref: to(phone)[0]!.sid });
});

test('a timeout after Twilio created the message is reconciled from the message list: no second message', async () => {
  const phone = '+14155550103';
  const before = { creates: standIn.creates, lists: standIn.lists };
  standIn.faults.push({ replyAfterMs: CLIENT_TIMEOUT_MS + 1500 });
  const { customerId, outcomes, ledger } = await run('order.shipped', phone);
  expect(outcomes).toEqual(['notice:sent']);
  expect(standIn.creates - before.creates).toBe(1);
  expect(standIn.lists - before.lists).toBe(1);
  expect(to(phone)).toHaveLength(1);
  expect(ledger).toMatchObject({ state: 'sent', provider_ref: to(phone)[0]!.sid });
  expect((await messageEntries(customerId))[0]!.summary).toBe('sms sent: Your order A-1 has shipped.');
});

test('a timeout where Twilio has no such message is sent again, once', async () => {
  const phone = '+14155550104';
  const before = { creates: standIn.creates, lists: standIn.lists };
  standIn.faults.push({ lostAfterMs: CLIENT_TIMEOUT_MS + 1500 });
  const { outcomes, ledger } = await run('order.shipped', phone);
  expect(outcomes).toEqual(['notice:sent']);
  expect(standIn.creates - before.creates).toBe(2);
  expect(standIn.lists - before.lists).toBe(1);
  expect(to(phone)).toHaveLength(1);
  expect(ledger).toMatchObject({ state: 'sent', provider_ref: to(phone)[0]!.sid });
});

test('an invalid number (21211) is permanent: recorded with its code, not retried', async () => {
  const before = standIn.creates;
  const { customerId, outcomes, ledger } = await run('order.shipped', TWILIO_TEST_NUMBERS.invalid);
  expect(outcomes).toEqual(['notice:failed']);
  expect(standIn.creates - before).toBe(1);
  expect(ledger).toMatchObject({ state: 'failed_permanent', attempt: 1 });
  expect((await messageEntries(customerId))[0]!.data).toMatchObject({ status: 'failed', code: 21211 });
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBeUndefined();
});

test('a recipient who unsubscribed at Twilio (21610) is recorded and suppressed', async () => {
  const before = standIn.creates;
  const { customerId, outcomes } = await run('order.shipped', TWILIO_TEST_NUMBERS.unsubscribed);
  expect(outcomes).toEqual(['notice:failed']);
  expect(standIn.creates - before).toBe(1);
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBe('stop');
  const next = await run('order.shipped', TWILIO_TEST_NUMBERS.unsubscribed);
  expect(next.outcomes).toEqual(['notice:skipped']);
  expect(standIn.creates - before).toBe(1);
});

/** The journey report's count of a figure: messages by status, or unsubscribes by step. */
async function reported(journey: string): Promise<JourneyReport> {
  return (await stack.api.inject({ method: 'GET', url: `/v1/journeys/${journey}/report` })).json<JourneyReport>();
}
const messages = (r: JourneyReport, status: string) =>
  r.messages.find((m) => m.channel === 'sms' && m.status === status)?.count ?? 0;
const stops = (r: JourneyReport) => r.unsubscribes.find((u) => u.step === 'notice' && u.channel === 'sms')?.count ?? 0;

test('STOP suppresses every SMS at once; START resumes them', async () => {
  const phone = '+14155550105';
  const { customerId } = await run('order.shipped', phone);
  const before = await reported('shipped');
  const stop = await reply(phone, ' Stop ');
  expect(stop.statusCode).toBe(200);
  expect(stop.headers['content-type']).toMatch(/^text\/xml/);
  expect(stop.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBe('stop');
  // The journey's report counts the STOP against the step whose text it answered.
  expect(stops(await reported('shipped'))).toBe(stops(before) + 1);

  const blocked = await run('order.shipped', phone);
  expect(blocked.outcomes).toEqual(['notice:skipped']);
  expect(to(phone)).toHaveLength(1);

  expect((await reply(phone, 'unstop')).statusCode).toBe(200);
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBeUndefined();
  const resumed = await run('order.shipped', phone);
  expect(resumed.outcomes).toEqual(['notice:sent']);
  expect(to(phone)).toHaveLength(2);
  const summaries = (await messageEntries(customerId)).map((e) => e.summary);
  expect(summaries).toEqual(expect.arrayContaining(['sms received: STOP', 'sms received: START']));
});

test.each(['STOPALL', 'unsubscribe', 'Cancel', 'END', 'quit', 'REVOKE', 'opt out', 'Opt-Out'])(
  '%j opts the customer out',
  async (word) => {
    const phone = `+1415556${String(1000 + ++inbound).slice(-4)}`;
    const { customerId } = await run('order.shipped', phone);
    expect((await reply(phone, word)).statusCode).toBe(200);
    expect(await activeSuppression(stack.db, customerId, 'sms')).toBe('stop');
  },
);

test('a replayed START, signed and all, does not undo a later STOP: each message is acted on once', async () => {
  const phone = '+14155550191';
  const { customerId } = await run('order.shipped', phone);
  const message = (sid: string, body: string) =>
    webhook('/webhooks/twilio/inbound', { MessageSid: sid, From: phone, To: standIn.from, Body: body });
  expect((await message('SMreplay1', 'STOP')).statusCode).toBe(200);
  expect((await message('SMreplay2', 'START')).statusCode).toBe(200);
  expect((await message('SMreplay3', 'STOP')).statusCode).toBe(200);
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBe('stop');
  // An attacker who captured the START replays it, exactly as Twilio signed it.
  const replayed = await message('SMreplay2', 'START');
  expect(replayed.statusCode).toBe(200);
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBe('stop');
  expect((await run('order.shipped', phone)).outcomes).toEqual(['notice:skipped']);
  const received = (await messageEntries(customerId)).filter((e) => e.summary.startsWith('sms received'));
  expect(received).toHaveLength(3);
});

test('a STOP from a number no customer has yet holds for the customer who gets it later', async () => {
  const phone = '+14155550192';
  expect((await reply(phone, 'STOP')).statusCode).toBe(200);
  const later = await run('order.shipped', phone);
  expect(later.outcomes).toEqual(['notice:skipped']);
  expect(to(phone)).toHaveLength(0);
  // The number is kept as a hash, not in clear.
  const kept = await stack.db.selectFrom('address_suppressions').selectAll().execute();
  expect(JSON.stringify(kept)).not.toContain(phone);
  // START from the number lifts it.
  expect((await reply(phone, 'START')).statusCode).toBe(200);
  expect((await run('order.shipped', phone)).outcomes).toEqual(['notice:sent']);
});

test('HELP is answered with the configured help text', async () => {
  const res = await reply('+14155550106', 'help');
  expect(res.statusCode).toBe(200);
  expect(res.body).toBe(
    `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${TEST_SMS_HELP}</Message></Response>`,
  );
});

test("HELP is answered in the customer's language; other languages get the configured text", async () => {
  const customer = async (phone: string, locale: string) =>
    stack.sendEvent({ id: `profile-${phone}`, type: 'profile.updated', customer: { phone }, profile: { locale } });
  await customer('+14155550116', 'fr-CA');
  await customer('+14155550117', 'de-DE');
  const fr = await reply('+14155550116', 'HELP');
  expect(fr.statusCode).toBe(200);
  // No fr-CA text: the French one, from definitions/texts/sms.fr.yaml.
  expect(fr.body).toMatch(/<Message>Répondez STOP pour ne plus recevoir de SMS/);
  const de = await reply('+14155550117', 'HELP');
  expect(de.body).toBe(
    `<?xml version="1.0" encoding="UTF-8"?><Response><Message>${TEST_SMS_HELP}</Message></Response>`,
  );
});

test('unsigned and forged webhooks are refused, logged, and change nothing', async () => {
  const phone = '+14155550107';
  const { customerId } = await run('order.shipped', phone);
  logLines.length = 0;
  const unsigned = await reply(phone, 'STOP', 'none');
  const forged = await reply(phone, 'STOP', 'a-token-that-is-not-the-account-token');
  // A signature made for another body: the request was altered on the way.
  const params = { MessageSid: 'SMaltered', From: phone, To: standIn.from, Body: 'HELP' };
  const signature = twilio.getExpectedTwilioSignature(
    standIn.authToken,
    `${TEST_PUBLIC_URL}/webhooks/twilio/inbound`,
    params,
  );
  const altered = await stack.api.inject({
    method: 'POST',
    url: '/webhooks/twilio/inbound',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    payload: new URLSearchParams({ ...params, Body: 'STOP' }).toString(),
  });
  const status = await webhook(
    '/webhooks/twilio/status',
    { MessageSid: 'SMx', MessageStatus: 'failed' },
    'forged-token',
  );
  for (const res of [unsigned, forged, altered, status]) {
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  }
  expect(await activeSuppression(stack.db, customerId, 'sms')).toBeUndefined();
  const refusals = logLines.filter((l) => l.includes('Twilio webhook refused'));
  expect(refusals).toHaveLength(4);
  // The log names the route, not the customer's number.
  expect(refusals.join('\n')).not.toContain(phone.slice(1));
});

test('status callbacks update the message on the timeline, forward only, and the report counts each final one once', async () => {
  const phone = '+14155550108';
  const { customerId } = await run('order.shipped', phone);
  const before = await reported('shipped');
  const sid = to(phone)[0]!.sid;
  const path = new URL(to(phone)[0]!.statusCallback!).pathname + new URL(to(phone)[0]!.statusCallback!).search;
  expect((await webhook(path, { MessageSid: sid, MessageStatus: 'sent' })).statusCode).toBe(204);
  expect((await webhook(path, { MessageSid: sid, MessageStatus: 'delivered' })).statusCode).toBe(204);
  // Late and repeated callbacks do not move it back.
  expect((await webhook(path, { MessageSid: sid, MessageStatus: 'sent' })).statusCode).toBe(204);
  expect((await webhook(path, { MessageSid: sid, MessageStatus: 'delivered' })).statusCode).toBe(204);
  const [entry] = await messageEntries(customerId);
  expect(entry).toMatchObject({
    summary: 'sms sent: Your order A-1 has shipped. (delivered)',
    data: { status: 'sent', delivery: 'delivered' },
  });

  const other = '+14155550109';
  const second = await run('order.shipped', other);
  const failedSid = to(other)[0]!.sid;
  await webhook('/webhooks/twilio/status', { MessageSid: failedSid, MessageStatus: 'undelivered', ErrorCode: '30003' });
  expect((await messageEntries(second.customerId))[0]).toMatchObject({
    summary: 'sms sent: Your order A-1 has shipped. (undelivered, error 30003)',
    data: { delivery: 'undelivered', errorCode: '30003' },
  });
  const after = await reported('shipped');
  expect(messages(after, 'delivered')).toBe(messages(before, 'delivered') + 1);
  expect(messages(after, 'undelivered')).toBe(messages(before, 'undelivered') + 1);
});
