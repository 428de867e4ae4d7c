/**
 * The API fuzzed (fast-check): 10,000 requests to the routes other systems call (events one at a
 * time and in batches, orders, customers created, changed and read, receipts, retries), with bodies
 * that are valid, nearly valid, of the wrong shape, huge, nested too deep, not JSON, or not UTF-8,
 * under several content types. The API never answers with a server error, and everything it says
 * it accepted is in the customer database afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { timeSkippingEnv } from '../../client/tools/testing/environment';
import { startTestStack, type TestStack } from '../../client/tools/testing/stack';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let empty: string;

beforeAll(async () => {
  env = await timeSkippingEnv();
  // No journeys: what is fuzzed is the API and the accepting, not the journeys events start.
  empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-fuzz-'));
  stack = await startTestStack(env, { journeysDirs: [empty], rateLimit: 1_000_000 });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
  fs.rmSync(empty, { recursive: true, force: true });
});

const ids = fc.oneof(
  fc.constantFrom('evt_a', 'evt_b', 'order-1', 'x'),
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.uuid(),
  fc.constant('e'.repeat(201)),
);
const emails = fc.oneof(
  fc.constantFrom('ada@example.com', 'bob@example.com', 'not-an-email', '', 'ADA@EXAMPLE.COM'),
  fc.emailAddress(),
);
const refs = fc.oneof(
  fc.record({ email: emails }),
  fc.record({ phone: fc.constantFrom('+14155550123', '+33612345678', '0612', '+0000') }),
  fc.record({ externalId: fc.record({ system: fc.constantFrom('crm', 'shop', 'BAD SYSTEM'), id: ids }) }),
  fc.record({ id: fc.constantFrom('cus_missing', '') }),
  fc.record({ email: emails, phone: fc.constant('+14155550123') }),
  fc.anything(),
);
/** A value nested `depth` levels deep. */
const nested = (depth: number): unknown => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
const data = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })),
  fc.constantFrom<unknown>(nested(40), nested(2_000), { big: 'x'.repeat(300 * 1024) }, null, [], 'text', 7),
  fc.record({
    orderId: ids,
    total: fc.oneof(fc.double(), fc.integer(), fc.string()),
    lines: fc.oneof(
      fc.array(fc.record({ product: fc.string(), category: fc.string(), quantity: fc.integer() }), { maxLength: 3 }),
      fc.constant(Array.from({ length: 501 }, (_, i) => ({ product: `p${i}`, category: 'c', quantity: 1 }))),
    ),
  }),
);
const profile = fc.oneof(
  fc.record(
    {
      firstName: fc.string({ maxLength: 20 }),
      timezone: fc.constantFrom('Europe/Paris', 'Mars/Olympus', 'UTC'),
      consent: fc.oneof(fc.constant({ email: { marketing: true } }), fc.anything()),
      attributes: fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 })), fc.anything()),
      unknownField: fc.string(),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);
const wildEvent = fc.record(
  {
    id: ids,
    type: fc.oneof(fc.constantFrom('order.placed', 'lead.created', 'complaint.opened', 'Bad Type', ''), fc.string()),
    customer: refs,
    occurredAt: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom('yesterday', '2026-13-40T00:00:00Z'),
    ),
    data,
    profile,
    extra: fc.anything(),
  },
  { requiredKeys: ['type', 'customer'] },
);
/** Events as a sending system means them, so that acceptance is exercised as much as refusal. */
const goodEvent = fc.record(
  {
    id: fc.uuid(),
    type: fc.constantFrom('lead.created', 'complaint.opened', 'app.activated'),
    customer: fc.oneof(
      fc.record({ email: fc.emailAddress() }),
      fc.record({ externalId: fc.record({ system: fc.constantFrom('crm', 'shop'), id: fc.uuid() }) }),
    ),
    data: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })),
    profile: fc.record({ firstName: fc.string({ maxLength: 20 }) }),
  },
  { requiredKeys: ['id', 'type', 'customer'] },
);
const event = fc.oneof({ weight: 1, arbitrary: goodEvent }, { weight: 1, arbitrary: wildEvent });
const order = fc.record(
  {
    id: ids,
    customer: refs,
    orderId: ids,
    total: fc.oneof(fc.double(), fc.integer({ min: 0, max: 10_000 })),
    // Valid, lower case, and too long.
    currency: fc.constantFrom('EUR', 'usd', 'EURO'),
    lines: fc.array(fc.record({ product: fc.string(), category: fc.string(), quantity: fc.integer() }), {
      maxLength: 3,
    }),
  },
  { requiredKeys: ['customer'] },
);
const customerBody = fc.record(
  { email: emails, phone: fc.constantFrom('+14155550124', 'nope'), firstName: fc.string(), extra: fc.anything() },
  { requiredKeys: [] },
);

/** How the body travels: JSON as it should, or broken on the way. */
const encoding = fc.constantFrom('json', 'json', 'json', 'bom', 'truncated', 'latin1', 'not-utf8', 'garbage');
const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  undefined,
);

interface Request {
  method: 'GET' | 'POST' | 'PATCH';
  url: string;
  body?: unknown;
  encoding: string;
  contentType: string | undefined;
}

const request: fc.Arbitrary<Request> = fc
  .record({
    target: fc.oneof(
      fc.record({ method: fc.constant('POST' as const), url: fc.constant('/v1/events'), body: event }),
      fc.record({
        method: fc.constant('POST' as const),
        url: fc.constant('/v1/events'),
        body: fc.record({ events: fc.oneof(fc.array(event, { maxLength: 5 }), fc.anything()) }),
      }),
      fc.record({ method: fc.constant('POST' as const), url: fc.constant('/v1/orders'), body: order }),
      fc.record({ method: fc.constant('POST' as const), url: fc.constant('/v1/customers'), body: customerBody }),
      fc.record({
        method: fc.constant('PATCH' as const),
        url: fc.oneof(
          fc.constantFrom('/v1/customers/ada@example.com', '/v1/customers/cus_missing'),
          fc.string().map((s) => `/v1/customers/${encodeURIComponent(s)}`),
        ),
        body: fc.oneof(profile, customerBody),
      }),
      fc.record({
        method: fc.constant('GET' as const),
        url: fc.oneof(
          ids.map((id) => `/v1/events/${encodeURIComponent(id)}`),
          emails.map((e) => `/v1/customers/${encodeURIComponent(e)}`),
          fc.string().map((s) => `/v1/events/${s}`),
        ),
      }),
      fc.record({
        method: fc.constant('POST' as const),
        url: ids.map((id) => `/v1/events/${encodeURIComponent(id)}/retry`),
      }),
    ),
    encoding,
    contentType,
  })
  .map(({ target, encoding, contentType }) => ({ ...target, encoding, contentType }));

function payloadOf(r: Request): string | Buffer | undefined {
  if (!('body' in r) || r.method === 'GET') return undefined;
  const json = JSON.stringify(r.body) ?? 'null';
  switch (r.encoding) {
    case 'bom':
      return `\uFEFF${json}`;
    case 'truncated':
      return json.slice(0, Math.floor(json.length / 2));
    case 'latin1':
      return Buffer.from(json.replace('a', 'é'), 'latin1');
    case 'not-utf8':
      return Buffer.concat([
        Buffer.from(json.slice(0, 5)),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from(json.slice(5)),
      ]);
    case 'garbage':
      return 'type=order.placed&customer=ada';
    default:
      return json;
  }
}

test('10,000 fuzzed requests: never a server error, and nothing accepted is lost', async () => {
  const acceptedEvents = new Set<string>();
  const createdCustomers = new Set<string>();
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const payload = payloadOf(r);
      const res = await stack.api.inject({
        method: r.method,
        url: r.url,
        ...(r.contentType ? { headers: { 'content-type': r.contentType } } : {}),
        ...(payload !== undefined ? { payload } : {}),
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      // A refusal is a problem document that says what was wrong; never a server error.
      expect(res.statusCode).toBeLessThan(500);
      if (res.statusCode >= 400) {
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect((res.json<{ detail?: string; title?: string }>().detail ?? '').length).toBeGreaterThan(0);
      }
      if (r.method === 'POST' && (r.url === '/v1/events' || r.url === '/v1/orders') && res.statusCode < 300) {
        const body = res.json<{ eventId?: string; results?: { eventId?: string; status?: string }[] }>();
        if (body.eventId) acceptedEvents.add(body.eventId);
        for (const result of body.results ?? []) if (result.eventId) acceptedEvents.add(result.eventId);
      }
      if (r.method === 'POST' && r.url === '/v1/customers' && res.statusCode === 201) {
        createdCustomers.add(res.json<{ id: string }>().id);
      }
    }),
    { numRuns: 10_000, seed: 20261202 },
  );

  // Everything answered as accepted is kept.
  const keptEvents = new Set(
    (await stack.db.selectFrom('events').select('id').execute())
      .map((e) => e.id)
      .filter((id) => acceptedEvents.has(id)),
  );
  expect([...acceptedEvents].filter((id) => !keptEvents.has(id))).toEqual([]);
  const keptCustomers = new Set((await stack.db.selectFrom('customers').select('id').execute()).map((c) => c.id));
  expect([...createdCustomers].filter((id) => !keptCustomers.has(id))).toEqual([]);
  // The requests reached past validation as well as being refused by it.
  expect(acceptedEvents.size).toBeGreaterThan(100);
  expect(statuses.get(422) ?? 0).toBeGreaterThan(1_000);
});
