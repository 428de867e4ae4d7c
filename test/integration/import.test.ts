/**
 * Triggers in bulk: a batch of events in one request, and `rapport import` of a customer base over
 * HTTP, with the CDNOW purchases (converted by scripts/cdnow.ts) as the real-data case: every
 * customer's order count and lifetime value match the file. Consent and suppressions imported from
 * another tool: a suppressed address stops the first send to the customer who gets it later.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { importFile } from '../../client/tools/cli/import';
import { RapportClient } from '../../client/sdk';
import type { JourneyResult } from '../../workflows/types';
import { cdnowOrdersCsv, readCdnow } from '../../scripts/cdnow';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let url: string;
let scratch: string;

beforeAll(async () => {
  env = await timeSkippingEnv();
  stack = await startTestStack(env);
  url = await stack.api.listen({ host: '127.0.0.1', port: 0 });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-import-'));
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('a batch of events', () => {
  test('is accepted in order, each with its receipt; sent again, it changes nothing', async () => {
    const client = new RapportClient({ baseUrl: url });
    const events = [
      { id: 'b-1', type: 'lead.created', customer: { email: 'batch1@example.com' }, profile: { firstName: 'Bo' } },
      { id: 'b-2', type: 'lead.created', customer: { email: 'batch2@example.com' } },
      { id: 'b-3', type: 'app.activated', customer: { email: 'batch1@example.com' } },
    ];
    const first = await client.sendEvents(events);
    expect(first.accepted).toBe(3);
    expect(first.results.map((r) => [r.index, r.status])).toEqual([
      [0, 202],
      [1, 202],
      [2, 202],
    ]);
    const again = await client.sendEvents(events);
    expect(again.results.every((r) => r.status === 202 && 'replayed' in r && r.replayed)).toBe(true);
    const { count } = await stack.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('id', 'in', ['b-1', 'b-2', 'b-3'])
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(3);
  });

  test('is routed several events at a time, each customer’s events in their order', async () => {
    const client = new RapportClient({ baseUrl: url });
    // Each lead is disqualified right after it is created: routed out of order, the disqualification
    // would find no journey to leave.
    const events = Array.from({ length: 12 }, (_, i) => [
      { id: `r-${i}-created`, type: 'lead.created', customer: { email: `routed${i}@example.com` } },
      { id: `r-${i}-disqualified`, type: 'lead.disqualified', customer: { email: `routed${i}@example.com` } },
    ]).flat();
    const { accepted, results } = await client.sendEvents(events, { waitForRouting: true });
    expect(accepted).toBe(24);
    for (const [i, r] of results.entries()) {
      if (!('receipt' in r)) throw new Error(`event ${i} was not accepted`);
      if (i % 2 === 0) expect(r.receipt.enrolled.map((e) => e.journey)).toContain('prospect-conversion');
      else expect(r.receipt.signalled.map((e) => e.journey)).toEqual(['prospect-conversion']);
    }
  });

  test('with a bad event anywhere, none is accepted, and every problem names its place', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: {
        events: [
          { id: 'bad-0', type: 'lead.created', customer: { email: 'ok@example.com' } },
          { id: 'bad-1', type: 'lead.created', customer: { email: 'not-an-email' } },
          { type: 'lead.created', customer: { email: 'x@example.com' } },
        ],
      },
    });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json<{ errors: { path: string }[] }>().errors.map((e) => e.path)).toEqual([
      'events[1].customer.email',
      'events[2].id',
    ]);
    const none = await stack.db.selectFrom('events').select('id').where('id', '=', 'bad-0').executeTakeFirst();
    expect(none).toBeUndefined();
  });

  test('an id reused with another body is refused for that event alone', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/v1/events?wait=routed',
      payload: {
        events: [
          { id: 'b-1', type: 'lead.created', customer: { email: 'someone-else@example.com' } },
          { id: 'b-4', type: 'lead.created', customer: { email: 'batch4@example.com' } },
        ],
      },
    });
    expect(res.statusCode).toBe(207);
    const body = res.json<{ accepted: number; results: { status: number }[] }>();
    expect(body.accepted).toBe(1);
    expect(body.results.map((r) => r.status)).toEqual([409, 202]);
  });

  test('more than 1,000 events are refused', async () => {
    const events = Array.from({ length: 1001 }, (_, i) => ({
      id: `big-${i}`,
      type: 'x.y',
      customer: { id: 'c' },
    }));
    const res = await stack.api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload: { events } });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('at most 1000 events');
  });
});

describe('rapport import', () => {
  test('customers from CSV: bad rows reported by line, the good ones in, other columns as attributes', async () => {
    const file = path.join(scratch, 'customers.csv');
    fs.writeFileSync(
      file,
      [
        'mail,first,tz,plan',
        'imp1@example.com,Ines,Europe/Paris,gold',
        'not-an-email,Bad,UTC,silver',
        'imp2@example.com,Ivo,America/Chicago,',
        ',Nobody,UTC,free',
      ].join('\n'),
    );
    const report = await importFile('customers', file, { url, map: 'mail=email,first=firstName,tz=timezone' });
    expect(report.imported).toBe(2);
    expect(report.errors).toEqual([
      { line: 3, path: 'email', message: 'expected an email address' },
      { line: 5, path: 'customer', message: 'expected a customer: customerId, email, phone or externalId' },
    ]);
    const c = await new RapportClient({ baseUrl: url }).getCustomer('imp1@example.com');
    expect(c.customer).toMatchObject({ firstName: 'Ines', timezone: 'Europe/Paris', attributes: { plan: 'gold' } });
  });

  test('orders from JSON lines enroll nobody; a bad line is reported and the rest go in', async () => {
    const file = path.join(scratch, 'orders.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify({ email: 'imp3@example.com', orderId: 'J-1', occurredAt: '2026-01-05', total: 20 }),
        '{not json',
        JSON.stringify({
          email: 'imp3@example.com',
          orderId: 'J-2',
          occurredAt: '2026-02-05T10:00:00Z',
          total: '15.5',
        }),
        JSON.stringify({ email: 'imp3@example.com', orderId: 'J-3', occurredAt: '20260230', total: 1 }),
      ].join('\n'),
    );
    const report = await importFile('orders', file, { url });
    expect(report.imported).toBe(2);
    expect(report.errors.map((e) => [e.line, e.path])).toEqual([
      [2, '(row)'],
      [4, 'occurredAt'],
    ]);
    const c = await new RapportClient({ baseUrl: url }).getCustomer('imp3@example.com');
    expect(c.customer.metrics).toMatchObject({ orderCount: 2, lifetimeValue: 35.5 });
    expect(c.customer.lifecycleStage).toBe('repeat_customer');
    expect(c.enrollments).toEqual([]);
  });

  test('a row that fails as it is written is reported by line; the rows before and after it in the request go in', async () => {
    const file = path.join(scratch, 'orders-unknown-customer.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify({ email: 'imp4@example.com', orderId: 'K-1', occurredAt: '2026-01-05', total: 20 }),
        // Valid as a row, refused as it is written: no customer has this id.
        JSON.stringify({ customerId: 'cus_missing', orderId: 'K-2', occurredAt: '2026-01-06', total: 5 }),
        JSON.stringify({ email: 'imp4@example.com', orderId: 'K-3', occurredAt: '2026-01-07', total: 7 }),
      ].join('\n'),
    );
    // One request: its rows are one transaction, written again row by row once the second fails.
    const report = await importFile('orders', file, { url });
    expect(report.imported).toBe(2);
    expect(report.errors).toEqual([{ line: 2, path: '(row)', message: expect.stringContaining('cus_missing') }]);
    const c = await new RapportClient({ baseUrl: url }).getCustomer('imp4@example.com');
    expect(c.customer.metrics).toMatchObject({ orderCount: 2, lifetimeValue: 27 });
    expect(await stack.db.selectFrom('orders').select('id').where('id', '=', 'K-2').execute()).toEqual([]);
  });

  test('the CDNOW sample imports, and every customer’s order count and lifetime value match the file', async () => {
    const purchases = readCdnow(path.join(__dirname, '../../../shared/data/cdnow/CDNOW_sample.txt'));
    expect(purchases).toHaveLength(6919);
    const file = path.join(scratch, 'cdnow.csv');
    fs.writeFileSync(file, cdnowOrdersCsv(purchases));

    const report = await importFile('orders', file, { url, system: 'cdnow', batch: '1000' });
    expect(report).toEqual({ imported: 6919, unchanged: 0, errors: [] });

    const expected = new Map<string, { orders: number; cents: number }>();
    for (const p of purchases) {
      const e = expected.get(p.customer) ?? { orders: 0, cents: 0 };
      e.orders++;
      e.cents += Math.round(p.dollars * 100);
      expected.set(p.customer, e);
    }
    expect(expected.size).toBe(2357);
    const rows = await sql<{ value: string; orders: string; cents: string }>`
      select i.value, count(o.id) as orders, round(sum(o.total) * 100) as cents
      from identities i join orders o on o.customer_id = i.customer_id
      where i.kind = 'ext:cdnow' group by i.value`.execute(stack.db);
    const actual = new Map(rows.rows.map((r) => [r.value, { orders: Number(r.orders), cents: Number(r.cents) }]));
    expect(actual).toEqual(expected);

    // Spot check through the customer view, as an ops person would read it.
    const [id, want] = [...expected.entries()].sort((a, b) => b[1].orders - a[1].orders)[0]!;
    const customer = await stack.db
      .selectFrom('identities')
      .select('customer_id')
      .where('kind', '=', 'ext:cdnow')
      .where('value', '=', id)
      .executeTakeFirstOrThrow();
    const view = await new RapportClient({ baseUrl: url }).getCustomer(customer.customer_id);
    expect(view.customer.metrics.orderCount).toBe(want.orders);
    expect(Math.round(view.customer.metrics.lifetimeValue * 100)).toBe(want.cents);

    // Importing the same file again changes nothing.
    const again = await importFile('orders', file, { url, system: 'cdnow', batch: '1000' });
    expect(again).toEqual({ imported: 0, unchanged: 6919, errors: [] });
  }, 180_000);
});

describe('rapport import from the tool a team leaves', () => {
  test('a suppressed address blocks the first send to the customer created later; a bad reason is reported by line', async () => {
    await stack.publish({
      'receipt.yaml': [
        'journey: imported-receipt',
        'name: Receipt',
        'category: transactional',
        'trigger: { event: receipt.requested }',
        'steps:',
        '  - id: receipt',
        '    type: send',
        '    channel: email',
        '    subject: "Your receipt"',
        '    text: "Thank you"',
      ].join('\n'),
    });
    const file = path.join(scratch, 'suppressions.csv');
    fs.writeFileSync(
      file,
      [
        'email,reason,at,detail',
        'gone@example.com,bounced,2025-11-02,550 5.1.1 no such user',
        'moody@example.com,grumpy,,',
      ].join('\n'),
    );
    const report = await importFile('suppressions', file, { url });
    expect(report).toEqual({
      imported: 1,
      unchanged: 0,
      errors: [{ line: 3, path: 'reason', message: 'expected a reason: bounced, complained, unsubscribed or stop' }],
    });

    const receipt = await stack.sendEvent({
      id: 'receipt-gone',
      type: 'receipt.requested',
      customer: { email: 'gone@example.com' },
    });
    const result = (await stack.temporal.workflow.getHandle(receipt.enrolled[0]!.workflowId).result()) as JourneyResult;
    expect(result.history[0]).toMatchObject({ outcome: 'skipped', detail: 'email: email suppressed (hard_bounce)' });
    const view = await new RapportClient({ baseUrl: url }).getCustomer('gone@example.com');
    expect(view.timeline.filter((t) => t.kind === 'message').map((t) => t.summary)).toEqual([
      'email skipped: email suppressed (hard_bounce)',
    ]);
    const ledger = await stack.db
      .selectFrom('send_ledger')
      .select(['state', 'last_error'])
      .where('customer_id', '=', view.customer.id)
      .execute();
    expect(ledger).toEqual([{ state: 'skipped', last_error: 'email suppressed (hard_bounce)' }]);
  });

  test('consent with its evidence shows on the customer and their timeline with method import', async () => {
    const file = path.join(scratch, 'hubspot.csv');
    fs.writeFileSync(
      file,
      [
        'Email,Unsubscribed from all email,consentedAt,consentSource,consentIp,consentMethod',
        'optin@example.com,false,2025-04-01T09:30:00Z,newsletter form,198.51.100.4,double-opt-in',
        'optout@example.com,true,2025-04-02,,,',
      ].join('\n'),
    );
    const report = await importFile('customers', file, {
      url,
      map: 'Email=email,Unsubscribed from all email=!consent.email.marketing',
    });
    expect(report).toEqual({ imported: 2, unchanged: 0, errors: [] });
    const client = new RapportClient({ baseUrl: url });
    const optin = await client.getCustomer('optin@example.com');
    expect(optin.customer.consent).toEqual({ email: { marketing: true } });
    expect(optin.customer.attributes).toEqual({});
    expect(optin.timeline.find((t) => t.kind === 'change')).toMatchObject({
      at: '2025-04-01T09:30:00.000Z',
      summary: 'email marketing consent given (import, import hubspot.csv:2)',
      data: { method: 'import', source: 'import hubspot.csv:2' },
    });
    const evidence = await stack.db
      .selectFrom('consents')
      .select('evidence')
      .where('customer_id', '=', optin.customer.id)
      .executeTakeFirstOrThrow();
    expect(evidence.evidence).toEqual({ source: 'newsletter form', ip: '198.51.100.4', method: 'double-opt-in' });
    const optout = await client.getCustomer('optout@example.com');
    expect(optout.customer.consent).toEqual({ email: { marketing: false } });
  });
});
