/**
 * The channel a customer prefers, learned from their engagement, on the database: SMS answered and
 * email links clicked per message sent over the last 180 days, the higher rate winning once a channel
 * has three messages; a stated preference always wins; too little data, a tie or silence teach nothing.
 */
import { sql } from 'kysely';
import { migrate, openDatabase, type Db, type OpenDatabase } from '../../activities/db/database';
import { chooseChannel } from '../../activities/messaging';
import { getCustomer } from '../../activities/store/customers';
import { sendKeyHash } from '../../activities/store/ledger';
import { learnedChannel } from '../../activities/store/engagement';
import { customerFacts } from '../../activities/store/facts';
import { appendTimeline } from '../../activities/store/timeline';
import { evaluateCondition } from '../../definitions/cel';

const DAY = 86_400_000;
const now = new Date('2026-06-01T12:00:00Z');
let database: OpenDatabase;
let db: Db;

beforeAll(async () => {
  database = await openDatabase({});
  db = database.db;
  await migrate(db);
});

afterAll(async () => {
  await database?.close();
});

let phones = 0;
/** A customer with an email address and a phone number of their own (phone numbers are unique). */
async function addCustomer(id: string, preferred: 'email' | 'sms' | null = null) {
  const phone = `+447700900${String(100 + ++phones)}`;
  await sql`insert into customers (id, email, phone, preferred_channel)
    values (${id}, ${`${id}@pref.example`}, ${phone}, ${preferred})`.execute(db);
}

let n = 0;
/** Timeline entries as the send, the tracked click and the inbound SMS write them. */
const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY);
async function sent(customerId: string, channel: 'email' | 'sms', daysAgo = 1) {
  const sendKey = `j:${customerId}:${++n}:${channel}`;
  await appendTimeline(db, {
    customerId,
    at: at(daysAgo),
    kind: 'message',
    summary: `${channel} sent`,
    ref: sendKey,
    data: { status: 'sent', channel, journey: 'j', step: 's' },
  });
  // What a tracked link names the message by: the hash of its send key.
  return sendKeyHash(sendKey);
}
async function clicked(customerId: string, message: string, link: string, daysAgo = 1) {
  await appendTimeline(db, {
    customerId,
    at: at(daysAgo),
    kind: 'message',
    summary: 'email link clicked',
    ref: `click:${message}:${link}`,
    data: { status: 'clicked', channel: 'email' },
  });
}
async function replied(customerId: string, text: string, keyword?: string, daysAgo = 1) {
  await appendTimeline(db, {
    customerId,
    at: at(daysAgo),
    kind: 'message',
    summary: 'sms received',
    ref: `sms-in:${++n}`,
    data: { status: 'received', channel: 'sms', direction: 'inbound', text, ...(keyword ? { keyword } : {}) },
  });
}

const preferredSend = { channel: 'preferred' as const, email: { subject: 's', text: 't' }, sms: { text: 't' } };

async function choice(id: string) {
  const row = (await getCustomer(db, id))!;
  const learned = await learnedChannel(db, id, now);
  return { learned, chosen: chooseChannel(preferredSend, { ...row, learned_channel: learned.channel }) };
}

test('learned sms: SMS answered and no email clicked; the facts and CEL read it', async () => {
  await addCustomer('texter');
  for (let i = 0; i < 4; i++) await sent('texter', 'email');
  for (let i = 0; i < 3; i++) await sent('texter', 'sms');
  await replied('texter', 'Yes please, Thursday works');
  await replied('texter', 'thanks!');
  // A keyword is not conversation: STOP counts for nothing here.
  await replied('texter', 'STOP', 'stop');

  const { learned, chosen } = await choice('texter');
  expect(learned.channel).toBe('sms');
  expect(learned.why).toBe('learned sms (email clicked 0 of 4, sms answered 2 of 3 in 180 days)');
  expect(chosen).toBe('sms');

  const facts = await customerFacts(db, (await getCustomer(db, 'texter'))!, now);
  expect(facts.learnedChannel).toBe('sms');
  expect(
    evaluateCondition('customer.learnedChannel == "sms"', 'trigger', { customer: facts, now: now.toISOString() }),
  ).toBe(true);
});

test('the stated preference wins over the learned one', async () => {
  await addCustomer('stated', 'email');
  for (let i = 0; i < 3; i++) await sent('stated', 'sms');
  for (let i = 0; i < 3; i++) await replied('stated', 'ok');
  const { learned, chosen } = await choice('stated');
  expect(learned.channel).toBe('sms');
  expect(chosen).toBe('email');
});

test('email clicks count once per message, and the higher rate wins', async () => {
  await addCustomer('clicker');
  const emails = [await sent('clicker', 'email'), await sent('clicker', 'email'), await sent('clicker', 'email')];
  // Three clicks, two of them on one message: two of three messages engaged (67 %).
  await clicked('clicker', emails[0]!, 'a');
  await clicked('clicker', emails[0]!, 'b');
  await clicked('clicker', emails[1]!, 'a');
  for (let i = 0; i < 3; i++) await sent('clicker', 'sms');
  await replied('clicker', 'hi'); // one of three (33 %)
  const { learned, chosen } = await choice('clicker');
  expect(learned.why).toBe('learned email (email clicked 2 of 3, sms answered 1 of 3 in 180 days)');
  expect(chosen).toBe('email');
});

test('too little data, a tie, silence or engagement older than 180 days fall back to email first', async () => {
  // Two SMS answered, both: under three messages, the rate does not count.
  await addCustomer('few');
  for (let i = 0; i < 2; i++) await sent('few', 'sms');
  for (let i = 0; i < 2; i++) await replied('few', 'yes');
  // One of three on each channel.
  await addCustomer('tie');
  const tieMails = [await sent('tie', 'email'), await sent('tie', 'email'), await sent('tie', 'email')];
  await clicked('tie', tieMails[2]!, 'a');
  for (let i = 0; i < 3; i++) await sent('tie', 'sms');
  await replied('tie', 'hm');
  // Messages but no engagement at all.
  await addCustomer('silent');
  for (let i = 0; i < 5; i++) await sent('silent', 'sms');
  // Keen on SMS, but 200 days ago.
  await addCustomer('old');
  for (let i = 0; i < 4; i++) await sent('old', 'sms', 200);
  for (let i = 0; i < 4; i++) await replied('old', 'yes', undefined, 200);

  for (const id of ['few', 'tie', 'silent', 'old']) {
    const { learned, chosen } = await choice(id);
    expect({ id, learned: learned.channel, chosen }).toEqual({ id, learned: null, chosen: 'email' });
  }
  expect((await choice('few')).learned.why).toBe(
    'nothing learned (email clicked 0 of 0, sms answered 2 of 2 in 180 days)',
  );
  expect((await customerFacts(db, (await getCustomer(db, 'old'))!, now)).learnedChannel).toBeNull();
});
