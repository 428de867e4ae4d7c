/**
 * Subscription topics on an in-memory database: topic choices kept per channel with their evidence
 * and timeline entries; the send activity holding a marketing message of a topic the customer left
 * on that channel and only that; and the preference page an unsubscribe link opens, served by the
 * real routes: in the customer's language, escaped, saving boxes, leaving everything, one click.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { migrate, openDatabase, type Db, type OpenDatabase } from '../../activities/db/database';
import type { Mailer } from '../../activities/channels/email';
import { signUnsubscribe, unsubscribeKeys, verifyUnsubscribe } from '../../activities/channels/unsubscribe';
import { createMessaging, type SendRequest } from '../../activities/messaging';
import { consentFor, recordConsent } from '../../activities/store/consent';
import { mergeCustomers, upsertCustomer } from '../../activities/store/customers';
import { listTimeline } from '../../activities/store/timeline';
import { recordTopicChoices, topicChoices, topicSubscribed } from '../../activities/store/topics';
import { channelRoutes } from '../../client/server/api/channel-callbacks';

const logger = pino({ level: 'silent' });
const keys = unsubscribeKeys('topics-test-secret-0123456789abcdefghij');
let database: OpenDatabase;
let db: Db;
let app: FastifyInstance;
const outbox: Parameters<Mailer['send']>[0][] = [];
const texts: string[] = [];

const messaging = () =>
  createMessaging({
    db,
    logger,
    mailFrom: 'news@acme.example',
    mailer: {
      destination: 'memory',
      send: (m) => Promise.resolve(void outbox.push(m)).then(() => ({ response: '250 ok' })),
      close: () => undefined,
    },
    sms: {
      destination: 'memory',
      send: (m) => Promise.resolve(void texts.push(m.text)).then(() => ({ ref: `SM${texts.length}` })),
    },
    unsubscribe: { keys, publicUrl: 'https://rapport.example' },
    // No quiet hours and no cap: the topic is the only thing that holds a message here.
    policy: { smsQuietHours: null, marketingConsent: 'opt-in', caps: {} },
  });

beforeAll(async () => {
  database = await openDatabase({});
  db = database.db;
  await migrate(db);
  app = Fastify({ routerOptions: { maxParamLength: 1000 } });
  await app.register(
    channelRoutes(db, { publicUrl: 'https://rapport.example', unsubscribeKeys: keys, smsHelpText: 'help' }, logger),
  );
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await database?.close();
});

let n = 0;
async function customer(email: string, locale = 'en') {
  const { customer } = await upsertCustomer(
    db,
    { email },
    { phone: `+1555010${String(++n).padStart(4, '0')}`, locale },
  );
  await recordConsent(
    db,
    customer.id,
    { email: { marketing: true }, sms: { marketing: true } },
    // A moment of its own: merged records keep each timeline entry once.
    { method: 'form', source: 'signup', at: new Date(Date.UTC(2026, 0, 1) + n * 1000) },
  );
  return customer.id;
}

const evidence = (method: string) => ({ method, source: 'test', at: new Date(), details: { why: method } });

async function send(customerId: string, channel: 'email' | 'sms', topic?: string, category = 'marketing' as const) {
  const req: SendRequest = {
    keyBase: `send:enr-${++n}:step:0`,
    customerId,
    journeyId: 'promo',
    version: 1,
    category,
    ...(topic ? { topic } : {}),
    stepId: 'step',
    channel,
    email: { subject: 'Hello', text: 'Our news.' },
    sms: { text: 'Our news.' },
    event: { id: `e${n}`, type: 'promo.start', occurredAt: new Date().toISOString(), data: {} },
    events: {},
    tasks: {},
    enrolledAt: new Date().toISOString(),
    at: new Date().toISOString(),
  };
  return new MockActivityEnvironment().run(messaging().sendMessage, req);
}

describe('topic choices', () => {
  test('are kept per channel with their evidence, only when they change, each on the timeline', async () => {
    const id = await customer('store@example.com');
    expect(await topicSubscribed(db, id, 'email', 'offers')).toBeUndefined();
    // Choosing a topic the customer has (no row: subscribed) records nothing.
    expect(await recordTopicChoices(db, id, { email: { offers: true } }, evidence('page'))).toEqual([]);
    expect(
      await recordTopicChoices(db, id, { email: { offers: false }, sms: { newsletter: false } }, evidence('page')),
    ).toEqual([
      { channel: 'email', topic: 'offers', subscribed: false },
      { channel: 'sms', topic: 'newsletter', subscribed: false },
    ]);
    // The same answer again keeps the first evidence.
    expect(await recordTopicChoices(db, id, { email: { offers: false } }, evidence('again'))).toEqual([]);
    expect(await topicChoices(db, id)).toEqual({ email: { offers: false }, sms: { newsletter: false } });
    const row = await db
      .selectFrom('topic_consents')
      .selectAll()
      .where('customer_id', '=', id)
      .where('topic', '=', 'offers')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ method: 'page', source: 'test', evidence: { why: 'page' } });
    const summaries = (await listTimeline(db, id)).map((t) => t.summary);
    expect(summaries).toEqual(
      expect.arrayContaining(['email topic offers left (page, test)', 'sms topic newsletter left (page, test)']),
    );
    expect(summaries.filter((s) => s.includes('topic'))).toHaveLength(2);
  });

  test('follow a merged record to the one that stays, the more recent choice winning', async () => {
    const a = await customer('keep@example.com');
    const b = await customer('gone@example.com');
    await recordTopicChoices(db, a, { email: { offers: false } }, { ...evidence('old'), at: '2026-02-01T00:00:00Z' });
    await recordTopicChoices(db, b, { email: { offers: false } }, { ...evidence('older'), at: '2026-01-01T00:00:00Z' });
    await recordTopicChoices(db, b, { email: { newsletter: false } }, evidence('page'));
    await mergeCustomers(db, a, b, 'same person');
    expect(await topicChoices(db, a)).toEqual({ email: { newsletter: false, offers: false } });
    const offers = await db
      .selectFrom('topic_consents')
      .select('method')
      .where('customer_id', '=', a)
      .where('topic', '=', 'offers')
      .executeTakeFirstOrThrow();
    expect(offers.method).toBe('old');
    expect(await topicChoices(db, b)).toEqual({});
  });
});

describe('the send decision', () => {
  test("a topic left on a channel holds that topic's marketing there only", async () => {
    const id = await customer('send@example.com');
    await recordTopicChoices(db, id, { email: { offers: false } }, evidence('page'));
    const held = await send(id, 'email', 'offers');
    expect(held).toMatchObject({ status: 'skipped', detail: 'topic offers left by the customer on email' });
    const skipped = (await listTimeline(db, id)).find((t) => t.data.status === 'skipped');
    expect(skipped?.data).toMatchObject({ topic: 'offers', reason: 'topic offers left by the customer on email' });

    expect(await send(id, 'email', 'newsletter')).toMatchObject({ status: 'sent' });
    expect(await send(id, 'email')).toMatchObject({ status: 'sent' });
    expect(await send(id, 'sms', 'offers')).toMatchObject({ status: 'sent' });
    // Each email's unsubscribe link names its topic: one click there leaves that topic only.
    const links = outbox
      .filter((m) => m.to === 'send@example.com')
      .map((m) => /\/u\/([^>]+)>$/.exec(m.headers?.['List-Unsubscribe'] ?? '')?.[1] ?? '')
      .map((token) => verifyUnsubscribe(keys, token))
      .map((v) => (v.ok ? (v.payload.t ?? 'all marketing') : v.reason));
    expect(links).toEqual(['newsletter', 'all marketing']);

    await recordTopicChoices(db, id, { sms: { offers: false } }, evidence('page'));
    expect(await send(id, 'sms', 'offers')).toMatchObject({
      status: 'skipped',
      detail: 'topic offers left by the customer on sms',
    });
  });

  test('leaving everything holds every topic; transactional messages carry none and still go', async () => {
    const id = await customer('all@example.com');
    await recordConsent(db, id, { email: { marketing: false } }, evidence('one-click'));
    expect(await send(id, 'email', 'newsletter')).toMatchObject({
      status: 'skipped',
      detail: 'no marketing consent for email (withdrawn)',
    });
    expect(await send(id, 'email', undefined, 'transactional' as never)).toMatchObject({ status: 'sent' });
  });
});

describe('the preference page', () => {
  const link = (customerId: string, topic?: string) =>
    `/u/${signUnsubscribe(keys, { customerId, sendKeyHash: 'abc', ...(topic ? { topic } : {}) })}`;
  const form = (url: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload });

  test('opens in the customer language with a box per topic, changing nothing, never showing the address', async () => {
    const id = await customer('marie@example.com', 'fr-CA');
    await recordTopicChoices(db, id, { email: { newsletter: false } }, evidence('page'));
    const page = await app.inject({ method: 'GET', url: link(id, 'offers') });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<html lang="fr">');
    expect(page.body).toContain('Vos préférences d&#39;e-mail');
    expect(page.body).toContain('<input type="checkbox" name="topic" value="offers" checked> Offres et promotions');
    expect(page.body).toContain(
      '<input type="checkbox" name="topic" value="newsletter"> Notre lettre d&#39;information',
    );
    expect(page.body).toContain('<button type="submit" name="action" value="leave"');
    expect(page.body).not.toContain('<script');
    expect(page.body).not.toContain('marie');
    expect(await topicChoices(db, id)).toEqual({ email: { newsletter: false } });
  });

  test('saves the boxes, leaves everything, and ticking a topic again asks for marketing email again', async () => {
    const id = await customer('pat@example.com');
    const url = link(id, 'offers');
    const saved = await form(url, 'page=preferences&topic=newsletter&topic=product-updates&action=save');
    expect(saved.body).toContain('<html lang="en">');
    expect(saved.body).toContain('Your email preferences are saved.');
    expect(await topicChoices(db, id)).toEqual({ email: { offers: false } });

    const left = await form(url, 'page=preferences&topic=newsletter&action=leave');
    expect(left.body).toContain('You will not receive marketing email from us any more.');
    expect((await consentFor(db, id, 'email')).marketing).toBe(false);
    // The page now shows nothing ticked, and saying so.
    const page = await app.inject({ method: 'GET', url });
    expect(page.body).toContain('You receive no marketing email from us at the moment.');
    expect(page.body).not.toContain(' checked>');

    await form(url, 'page=preferences&topic=newsletter');
    expect((await consentFor(db, id, 'email')).marketing).toBe(true);
    // Newsletter was never left: nothing to record for it.
    expect(await topicChoices(db, id)).toEqual({ email: { offers: false, 'product-updates': false } });
    const summaries = (await listTimeline(db, id)).map((t) => t.summary);
    expect(summaries).toEqual(
      expect.arrayContaining([
        'email topic offers left (preference page, unsubscribe)',
        'email marketing consent withdrawn (preference page, unsubscribe)',
        'email marketing consent given (preference page, unsubscribe)',
        'email topic product-updates left (preference page, unsubscribe)',
      ]),
    );
  });

  test("one click leaves the message's topic only; a link without a topic leaves all marketing email", async () => {
    const id = await customer('one@example.com');
    const clicked = await form(link(id, 'offers'), 'List-Unsubscribe=One-Click');
    expect(clicked.statusCode).toBe(200);
    expect(clicked.body).toContain('Offers and discounts');
    expect(await topicChoices(db, id)).toEqual({ email: { offers: false } });
    expect((await consentFor(db, id, 'email')).marketing).toBe(true);
    expect((await listTimeline(db, id)).map((t) => t.summary)).toContain(
      'email topic offers left (one-click, unsubscribe)',
    );

    await form(link(id), 'List-Unsubscribe=One-Click');
    expect((await consentFor(db, id, 'email')).marketing).toBe(false);
  });

  test('a forged link is refused and changes nothing', async () => {
    const id = await customer('forged@example.com');
    const [body, sig] = link(id, 'offers').slice(3).split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, t: 'newsletter' })).toString('base64url');
    const res = await form(`/u/${forged}.${sig}`, 'List-Unsubscribe=One-Click');
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('This unsubscribe link is not valid');
    expect(await topicChoices(db, id)).toEqual({});
  });
});
