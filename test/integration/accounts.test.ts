/**
 * Accounts on an in-memory database, through the intake (which needs no Temporal to accept) and the
 * API: an account named by events and profiles, its contacts, the orders placed for it as contacts
 * come and go, its value from the contacts' predictions, its timeline a page at a time, the customer
 * facts journeys read, merges and erasure.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { evaluateCondition } from '../../definitions/cel';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { predictedFor } from '../../activities/insights/models';
import { recentAccountSends } from '../../activities/store/accounts';
import { eraseCustomer, getCustomer, mergeCustomers } from '../../activities/store/customers';
import { customerFacts } from '../../activities/store/facts';
import { claimSend } from '../../activities/store/ledger';
import { buildApi, type Api } from '../../client/server/api/server';
import { EventIntake } from '../../client/server/events/intake';
import { type IncomingEvent, incomingEvent } from '../../client/server/events/schema';
import { createDataProtection } from '../../client/server/protection';
import type { AccountTimelineItem, AccountView, CustomerDetail } from '../../client/sdk';

let database: OpenDatabase;
let intake: EventIntake;
let api: Api;

beforeAll(async () => {
  database = await openDatabase({});
  await migrate(database.db);
  // A fit of the value models (the published CDNOW parameters), so contacts with orders have a value.
  await database.db
    .insertInto('insight_models')
    .values({
      period_end: new Date(),
      customers: 2357,
      params: JSON.stringify({
        bgnbd: { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426, logLikelihood: 0 },
        gammaGamma: { p: 6.25, q: 3.74, gamma: 15.44, logLikelihood: 0 },
      }),
    })
    .execute();
  intake = new EventIntake({
    db: database.db,
    temporal: {} as Client,
    taskQueue: 'accounts-test',
    logger: pino({ level: 'silent' }),
  });
  api = buildApi({
    db: database.db,
    intake,
    temporal: {} as Client,
    protection: createDataProtection(database.db, randomBytes(32)),
    outboxDir: os.tmpdir(),
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await api?.close();
  await database?.close();
});

const DAY = 86_400_000;
const daysAgo = (d: number) => new Date(Date.now() - d * DAY).toISOString();

/** Accepts an event, answered at once (nothing routed); its customer's id. */
async function accept(event: IncomingEvent): Promise<string> {
  const { receipt } = await intake.accept(incomingEvent.parse(event), undefined, 0);
  return receipt.customerId;
}

const order = (id: string, email: string, total: number, at: string, extra: Partial<IncomingEvent> = {}) =>
  accept({
    id,
    type: 'order.placed',
    customer: { email },
    occurredAt: at,
    data: { orderId: id, total },
    ...extra,
  });

async function account(id: string): Promise<AccountView> {
  const res = await api.inject({ method: 'GET', url: `/v1/accounts/${id}` });
  expect(res.statusCode).toBe(200);
  return res.json<AccountView>();
}

test('events and profiles name the account; its contacts, revenue and value; orders stay with the account they were placed for', async () => {
  // Ann orders before anyone names her account: that order goes with the first account she joins.
  const ann = await order('o-1', 'ann@acme.example', 100, daysAgo(60));
  const named = await accept({
    id: 'e-1',
    type: 'page.viewed',
    customer: { email: 'ann@acme.example' },
    account: { id: 'acme', name: 'Acme Ltd', attributes: { tier: 'gold' } },
  });
  expect(named).toBe(ann);
  // Bob's order names the account in his profile; it is the account's from the start.
  const bob = await order('o-2', 'bob@acme.example', 40, daysAgo(30), { profile: { account: { id: 'acme' } } });
  const lastOrderAt = daysAgo(10);
  await order('o-3', 'bob@acme.example', 60, lastOrderAt);
  // Cid joins through the API, the account beside the profile; naming only the id keeps its name.
  const created = await api.inject({
    method: 'POST',
    url: '/v1/customers',
    payload: { customer: { email: 'cid@acme.example' }, profile: { firstName: 'Cid' }, account: { id: 'acme' } },
  });
  expect(created.statusCode).toBe(201);
  const cid = created.json<CustomerDetail>().customer;
  expect(cid.account).toEqual({ id: 'acme', name: 'Acme Ltd' });

  const acme = await account('acme');
  expect(acme).toMatchObject({
    id: 'acme',
    name: 'Acme Ltd',
    attributes: { tier: 'gold' },
    orderCount: 3,
    revenue: 200,
    lastOrderAt,
  });
  expect(acme.contacts.map((c) => c.email)).toEqual(['ann@acme.example', 'bob@acme.example', 'cid@acme.example']);
  // Its value is its contacts' predicted values together; Cid, without orders, is worth 0.
  const clvs = await Promise.all([ann, bob].map(async (id) => (await predictedFor(database.db, id)).clv));
  expect(clvs.every((v) => v > 0)).toBe(true);
  expect(acme.contacts.map((c) => c.clv)).toEqual([...clvs, 0]);
  expect(acme.value).toBeCloseTo(clvs[0]! + clvs[1]!, 2);

  // Bob moves to another client: his past orders stay Acme's, his next one is Globex's.
  await api.inject({
    method: 'PATCH',
    url: '/v1/customers/bob@acme.example',
    payload: { account: { id: 'globex', name: 'Globex' } },
  });
  await order('o-4', 'bob@acme.example', 25, daysAgo(1));
  expect(await account('acme')).toMatchObject({ orderCount: 3, revenue: 200 });
  expect((await account('acme')).contacts.map((c) => c.id)).toEqual([ann, cid.id]);
  expect(await account('globex')).toMatchObject({ name: 'Globex', orderCount: 1, revenue: 25 });

  // A later event renames the account and adds an attribute, keeping the others.
  await accept({
    id: 'e-2',
    type: 'page.viewed',
    customer: { id: ann },
    account: { id: 'acme', name: 'Acme Group', attributes: { region: 'EU' } },
  });
  expect(await account('acme')).toMatchObject({ name: 'Acme Group', attributes: { tier: 'gold', region: 'EU' } });

  // Leaving: account null; the change is on the customer's timeline.
  const left = await api.inject({ method: 'PATCH', url: `/v1/customers/${bob}`, payload: { account: null } });
  expect(left.json<CustomerDetail>().customer.account).toBeNull();
  expect(left.json<CustomerDetail>().timeline.map((t) => t.summary)).toEqual(
    expect.arrayContaining([
      'contact of account acme',
      'account acme → globex',
      'no longer a contact of account globex',
    ]),
  );
  expect(await account('globex')).toMatchObject({ contacts: [], orderCount: 1, revenue: 25 });

  const unknown = await api.inject({ method: 'GET', url: '/v1/accounts/nobody' });
  expect(unknown.statusCode).toBe(404);
  const bad = await api.inject({
    method: 'POST',
    url: '/v1/events',
    payload: { id: 'e-bad', type: 'x.y', customer: { email: 'x@example.com' }, account: { name: 'No id' } },
  });
  expect(bad.statusCode).toBe(422);
  expect(JSON.stringify(bad.json())).toContain('account.id');
});

test('the customer facts name the account, for CEL and templates; a customer of none reads as ""', async () => {
  const id = await accept({
    id: 'f-1',
    type: 'page.viewed',
    customer: { email: 'dee@initech.example' },
    account: { id: 'initech', name: 'Initech' },
  });
  const facts = await customerFacts(database.db, (await getCustomer(database.db, id))!);
  expect(facts.account).toEqual({ id: 'initech', name: 'Initech' });
  const now = new Date().toISOString();
  expect(evaluateCondition('customer.account.id == "initech"', 'segment', { customer: facts, now })).toBe(true);
  const lone = await accept({ id: 'f-2', type: 'page.viewed', customer: { email: 'lone@example.com' } });
  const loneFacts = await customerFacts(database.db, (await getCustomer(database.db, lone))!);
  expect(loneFacts.account).toBeNull();
  expect(evaluateCondition('customer.account.id == ""', 'segment', { customer: loneFacts, now })).toBe(true);
});

test('the account timeline: every contact’s entries, newest first, a page at a time', async () => {
  const a = await accept({
    id: 't-1',
    type: 'visit.a',
    customer: { email: 'a@hooli.example' },
    occurredAt: daysAgo(3),
    account: { id: 'hooli' },
  });
  const b = await accept({
    id: 't-2',
    type: 'visit.b',
    customer: { email: 'b@hooli.example' },
    occurredAt: daysAgo(2),
    account: { id: 'hooli' },
  });
  await accept({ id: 't-3', type: 'visit.c', customer: { id: a }, occurredAt: daysAgo(1) });
  // Two entries at the same instant, on either side of a page's end (pages of 3: the two contacts'
  // joining, then these): both are shown, once.
  const same = daysAgo(0.5);
  await accept({ id: 't-4', type: 'visit.d', customer: { id: b }, occurredAt: same });
  await accept({ id: 't-5', type: 'visit.e', customer: { id: a }, occurredAt: same });

  const all: AccountTimelineItem[] = [];
  let before: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const res: { statusCode: number; json: () => unknown } = await api.inject({
      method: 'GET',
      url: `/v1/accounts/hooli/timeline?limit=3${before ? `&before=${encodeURIComponent(before)}` : ''}`,
    });
    expect(res.statusCode).toBe(200);
    const page = res.json() as { entries: AccountTimelineItem[]; next: string | null };
    expect(page.entries.length).toBeLessThanOrEqual(3);
    all.push(...page.entries);
    before = page.next;
    if (!before) break;
  }
  const events = all.filter((e) => e.kind === 'event').map((e) => [e.summary, e.customerId]);
  expect(events).toEqual([
    ['event visit.e', a],
    ['event visit.d', b],
    ['event visit.c', a],
    ['event visit.b', b],
    ['event visit.a', a],
  ]);
  // Both contacts' joining is there too, and nothing twice.
  expect(all.filter((e) => e.kind === 'change').map((e) => e.summary)).toEqual([
    'contact of account hooli',
    'contact of account hooli',
  ]);
  expect(new Set(all.map((e) => JSON.stringify(e))).size).toBe(all.length);
  const times = all.map((e) => Date.parse(e.at));
  expect(times).toEqual([...times].sort((x, y) => y - x));

  // A time as `before`: only what came before it.
  const older = await api.inject({
    method: 'GET',
    url: `/v1/accounts/hooli/timeline?before=${encodeURIComponent(daysAgo(1.5))}`,
  });
  expect(older.json<{ entries: AccountTimelineItem[] }>().entries.map((e) => e.summary)).toEqual([
    'event visit.b',
    'event visit.a',
  ]);
  const bad = await api.inject({ method: 'GET', url: '/v1/accounts/hooli/timeline?before=yesterday' });
  expect(bad.statusCode).toBe(422);
  expect(bad.body).toContain('expected the `next` of a page, or an ISO 8601 date-time');
});

test('merged records keep an account; erasure leaves the contact in its account; the account cap counts every contact', async () => {
  const first = await accept({ id: 'm-1', type: 'page.viewed', customer: { email: 'eve@umbrella.example' } });
  const second = await accept({
    id: 'm-2',
    type: 'page.viewed',
    customer: { externalId: { system: 'crm', id: 'eve' } },
    account: { id: 'umbrella' },
  });
  await database.db.transaction().execute((tx) => mergeCustomers(tx, first, second, 'one person'));
  expect((await getCustomer(database.db, first))!.account_id).toBe('umbrella');

  // Marketing sent to two contacts counts for the account; a receipt does not.
  const frank = await accept({
    id: 'm-3',
    type: 'page.viewed',
    customer: { email: 'frank@umbrella.example' },
    account: { id: 'umbrella' },
  });
  const sent = async (key: string, customerId: string, category: string, at: Date) => {
    await claimSend(database.db, {
      sendKey: key,
      customerId,
      workflowId: 'wf',
      stepId: 's',
      channel: 'email',
      category,
      sendsAt: at,
    });
  };
  const now = Date.now();
  await sent('k-1', first, 'marketing', new Date(now - 2 * 3_600_000));
  await sent('k-2', frank, 'marketing', new Date(now - 3_600_000));
  await sent('k-3', frank, 'transactional', new Date(now - 3_600_000));
  await sent('k-4', frank, 'marketing', new Date(now - 3 * DAY));
  expect((await recentAccountSends(database.db, 'umbrella', new Date(now - DAY))).sort()).toEqual([
    now - 2 * 3_600_000,
    now - 3_600_000,
  ]);

  await database.db.transaction().execute((tx) => eraseCustomer(tx, frank));
  expect((await getCustomer(database.db, frank))!.account_id).toBe('umbrella');
  expect((await account('umbrella')).contacts.map((c) => [c.id, c.email])).toEqual([
    [first, 'eve@umbrella.example'],
    [frank, null],
  ]);
});
