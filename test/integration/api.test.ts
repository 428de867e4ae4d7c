/**
 * The HTTP API as other systems use it: the OpenAPI description, API keys and scopes, rate limits,
 * validation errors, customers (create, update, erase), orders, enrollments, and the typed client
 * retrying safely through a connection that loses an answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { buildApi } from '../../client/server/api/server';
import { RapportClient } from '../../client/sdk';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { eventually } from '../helpers/eventually';
import { journeyStateQuery } from '../../workflows/messages';
import { liquidChecker } from '../../activities/render';
import { compileJourney } from '../../definitions/compile';
import { toPlan } from '../../client/server/journeys/load';

let env: TestWorkflowEnvironment;
let stack: TestStack;

beforeAll(async () => {
  env = await timeSkippingEnv();
  stack = await startTestStack(env, { journeysDirs: [] });
  await stack.publish({
    'trial.yaml': `
journey: trial
name: Trial
category: service
trigger: { event: trial.started }
steps:
  - id: upgraded
    type: wait_for
    event: plan.upgraded
    timeout: 14d
    on_event:
      - id: thanks
        type: send
        channel: email
        subject: "Thanks for upgrading"
        text: "Welcome aboard."
`,
    'paid.yaml': `
journey: paid
name: Paid onboarding
category: service
trigger: { event: plan.upgraded }
steps:
  - id: pause
    type: wait
    duration: 2d
  - id: tips
    type: send
    channel: email
    subject: "Tips"
    text: "Three tips."
`,
  });
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

const outside = { remoteAddress: '203.0.113.7' };

describe('the OpenAPI description', () => {
  test('is generated from the zod schemas and browsable', async () => {
    const doc = (await stack.api.inject({ method: 'GET', url: '/openapi.json' })).json<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
    }>();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/v1/events',
      '/v1/orders',
      '/v1/customers',
      '/v1/customers/{ref}',
      '/v1/customers/{ref}/erase',
      '/v1/journeys/{id}/enrollments',
      '/v1/enrollments/{id}/cancel',
      '/v1/tasks/{id}/complete',
      '/v1/keys',
      '/v1/imports/orders',
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
    const order = JSON.stringify(doc.paths['/v1/orders']!.post!.requestBody!.content['application/json']!.schema);
    expect(order).toContain('"orderId"');
    expect(order).toContain('"total"');
    const ui = await stack.api.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger-ui');
  });
});

describe('validation', () => {
  test('a bad body, query or path says what was wrong and where', async () => {
    const body = await stack.api.inject({
      method: 'POST',
      url: '/v1/customers',
      payload: { customer: { email: 'not-an-email' }, profile: { timezone: 'Mars/Olympus' } },
    });
    expect(body.statusCode).toBe(422);
    expect(body.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(body.json<{ errors: { path: string; message: string }[] }>().errors).toEqual([
      { path: 'customer.email', message: 'expected an email address' },
      { path: 'profile.timezone', message: 'expected an IANA time zone such as Europe/Paris' },
    ]);
    const query = await stack.api.inject({ method: 'GET', url: '/v1/journeys/trial/enrollments?limit=lots' });
    expect(query.statusCode).toBe(422);
    expect(query.json<{ errors: { path: string }[] }>().errors[0]!.path).toBe('query.limit');
  });
});

describe('one event, two journeys', () => {
  test('enrolls the customer in one journey and moves them along in another, in one request', async () => {
    const started = await stack.sendEvent({
      id: 'trial-1',
      type: 'trial.started',
      customer: { email: 'two@example.com' },
    });
    expect(started.enrolled.map((e) => e.journey)).toEqual(['trial']);
    const upgraded = await stack.sendEvent({
      id: 'upgrade-1',
      type: 'plan.upgraded',
      customer: { email: 'two@example.com' },
    });
    expect(upgraded.enrolled.map((e) => e.journey)).toEqual(['paid']);
    expect(upgraded.signalled.map((s) => s.journey)).toEqual(['trial']);
    const trial = await stack.temporal.workflow.getHandle(started.enrolled[0]!.workflowId).result();
    expect(
      (trial as { history: { stepId: string; outcome: string }[] }).history.map((h) => `${h.stepId}:${h.outcome}`),
    ).toEqual(['upgraded:event', 'thanks:sent']);
  });
});

describe('customers, orders and enrollments', () => {
  test('create, then update, the same customer', async () => {
    const created = await stack.api.inject({
      method: 'POST',
      url: '/v1/customers',
      payload: { customer: { email: 'crud@example.com' }, profile: { firstName: 'Cy', attributes: { plan: 'pro' } } },
    });
    expect(created.statusCode).toBe(201);
    const again = await stack.api.inject({
      method: 'POST',
      url: '/v1/customers',
      payload: { customer: { email: 'crud@example.com' }, profile: { lastName: 'Rud' } },
    });
    expect(again.statusCode).toBe(200);
    const patched = await stack.api.inject({
      method: 'PATCH',
      url: '/v1/customers/crud@example.com',
      payload: { timezone: 'Asia/Tokyo', consent: { email: { marketing: true } } },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json<{ customer: Record<string, unknown> }>().customer).toMatchObject({
      firstName: 'Cy',
      lastName: 'Rud',
      timezone: 'Asia/Tokyo',
      attributes: { plan: 'pro' },
      consent: { email: { marketing: true } },
    });
  });

  test('an order updates the metrics and emits order.placed, once per order id', async () => {
    const order = { customer: { email: 'buyer@example.com' }, orderId: 'O-77', total: 42.5 };
    const first = await stack.api.inject({ method: 'POST', url: '/v1/orders?wait=routed', payload: order });
    expect(first.statusCode).toBe(202);
    const second = await stack.api.inject({ method: 'POST', url: '/v1/orders?wait=routed', payload: order });
    expect(second.statusCode).toBe(202);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const view = await stack.api.inject({ method: 'GET', url: '/v1/customers/buyer@example.com' });
    const body = view.json<{
      customer: { metrics: { orderCount: number; lifetimeValue: number } };
      timeline: { summary: string }[];
    }>();
    expect(body.customer.metrics).toMatchObject({ orderCount: 1, lifetimeValue: 42.5 });
    expect(body.timeline.filter((t) => t.summary === 'event order.placed')).toHaveLength(1);
  });

  test('an order with more lines than an order may have is refused at once, saying where', async () => {
    const lines = Array.from({ length: 501 }, (_, i) => ({ product: `p-${i}`, price: 1 }));
    const order = { customer: { email: 'bulk@example.com' }, orderId: 'O-BIG', total: 501, lines };
    const res = await stack.api.inject({ method: 'POST', url: '/v1/orders', payload: order });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('expected at most 500 lines in an order');
    // Nothing of it was kept: the customer it named does not exist.
    const view = await stack.api.inject({ method: 'GET', url: '/v1/customers/bulk@example.com' });
    expect(view.statusCode).toBe(404);
  });

  test('a journey lists its customers with where each is; one can be taken out', async () => {
    const r = await stack.sendEvent({ id: 'upgrade-2', type: 'plan.upgraded', customer: { email: 'out@example.com' } });
    const handle = stack.temporal.workflow.getHandle(r.enrolled[0]!.workflowId);
    await eventually('the journey to reach its pause', () => handle.query(journeyStateQuery), {
      until: (s) => s.currentStep === 'pause',
    });
    const list = (await stack.api.inject({ method: 'GET', url: '/v1/journeys/paid/enrollments?status=active' })).json<{
      enrollments: { id: string; customerId: string; currentStep: string | null }[];
    }>().enrollments;
    const mine = list.find((e) => e.customerId === r.customerId)!;
    expect(mine.currentStep).toBe('pause');
    const cancel = await stack.api.inject({
      method: 'POST',
      url: `/v1/enrollments/${mine.id}/cancel`,
      payload: { reason: 'asked to stop' },
    });
    expect(cancel.statusCode).toBe(200);
    expect((await handle.describe()).status.name).toBe('TERMINATED');
    const again = await stack.api.inject({ method: 'POST', url: `/v1/enrollments/${mine.id}/cancel`, payload: {} });
    expect(again.statusCode).toBe(409);
    const view = await stack.api.inject({ method: 'GET', url: `/v1/customers/${r.customerId}` });
    expect(view.json<{ enrollments: { status: string; outcome: string }[] }>().enrollments[0]).toMatchObject({
      status: 'cancelled',
      outcome: 'asked to stop',
    });
  });

  test('erasing a customer removes their personal data, cancels their journeys, and sends nothing more', async () => {
    const r = await stack.sendEvent({
      id: 'upgrade-erase',
      type: 'plan.upgraded',
      customer: { email: 'forget.me@example.com', phone: '+14155550199' },
      profile: { firstName: 'Forget', attributes: { note: 'private' } },
    });
    const erased = await stack.api.inject({ method: 'POST', url: '/v1/customers/forget.me@example.com/erase' });
    expect(erased.statusCode).toBe(200);
    expect(erased.json()).toMatchObject({ customer: r.customerId, erased: true, cancelled: ['paid'] });
    const view = (await stack.api.inject({ method: 'GET', url: `/v1/customers/${r.customerId}` })).json<{
      customer: Record<string, unknown>;
      identities: unknown[];
      timeline: { summary: string }[];
    }>();
    expect(view.customer).toMatchObject({ email: null, phone: null, firstName: null, attributes: {} });
    expect(view.identities).toEqual([]);
    expect(JSON.stringify(view.timeline)).not.toMatch(/forget\.me|private|Forget/);
    expect(view.timeline.at(-1)!.summary).toBe('personal data erased on request');
    expect((await stack.api.inject({ method: 'GET', url: '/v1/customers/forget.me@example.com' })).statusCode).toBe(
      404,
    );
    // The same event sent again is answered as before, and brings no one back.
    const again = await stack.api.inject({
      method: 'POST',
      url: '/v1/events',
      payload: {
        id: 'upgrade-erase',
        type: 'plan.upgraded',
        customer: { email: 'forget.me@example.com', phone: '+14155550199' },
        profile: { firstName: 'Forget', attributes: { note: 'private' } },
      },
    });
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toMatchObject({ customerId: r.customerId });
    expect((await stack.api.inject({ method: 'GET', url: '/v1/customers/forget.me@example.com' })).statusCode).toBe(
      404,
    );
  });
});

describe('API keys', () => {
  test('open to this machine only until the first key; then every call needs a key with its scope', async () => {
    // No key yet: this machine may call, others may not.
    expect((await stack.api.inject({ method: 'GET', url: '/v1/journeys' })).statusCode).toBe(200);
    const refused = await stack.api.inject({ method: 'GET', url: '/v1/journeys', ...outside });
    expect(refused.statusCode).toBe(401);
    expect(refused.json<{ detail: string }>().detail).toMatch(/rapport keys create/);

    const admin = await stack.api.inject({
      method: 'POST',
      url: '/v1/keys',
      payload: { name: 'ops', scopes: ['admin'] },
    });
    expect(admin.statusCode).toBe(201);
    const adminKey = admin.json<{ key: string; id: string }>();
    expect(adminKey.key).toMatch(/^rk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const auth = (key: string) => ({ authorization: `Bearer ${key}` });

    // Now a key is needed, even here.
    expect((await stack.api.inject({ method: 'GET', url: '/v1/journeys' })).statusCode).toBe(401);
    expect(
      (await stack.api.inject({ method: 'GET', url: '/v1/journeys', headers: auth(adminKey.key), ...outside }))
        .statusCode,
    ).toBe(200);

    const shop = (
      await stack.api.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: auth(adminKey.key),
        payload: { name: 'shop', scopes: ['events:write'] },
      })
    ).json<{ key: string; id: string }>();
    const event = { id: 'keyed-1', type: 'lead.created', customer: { email: 'keyed@example.com' } };
    expect(
      (
        await stack.api.inject({
          method: 'POST',
          url: '/v1/events?wait=routed',
          headers: auth(shop.key),
          payload: event,
        })
      ).statusCode,
    ).toBe(202);
    const scoped = await stack.api.inject({
      method: 'GET',
      url: '/v1/customers/keyed@example.com',
      headers: auth(shop.key),
    });
    expect(scoped.statusCode).toBe(403);
    expect(scoped.json<{ detail: string }>().detail).toBe('this API key lacks the scope customers:read');
    expect((await stack.api.inject({ method: 'GET', url: '/v1/keys', headers: auth(shop.key) })).statusCode).toBe(403);

    // A preview needs journeys:read, and customers:read as well for a live customer's facts; a test
    // send sends for real and needs journeys:write.
    const viewer = (
      await stack.api.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: auth(adminKey.key),
        payload: { name: 'viewer', scopes: ['journeys:read'] },
      })
    ).json<{ key: string; id: string }>();
    const previewAs = (url: string, customer: object) =>
      stack.api.inject({
        method: 'POST',
        url,
        headers: auth(viewer.key),
        payload: { customer, ...(url.endsWith('send-test') ? { to: 'qa@example.com' } : {}) },
      });
    const made = await previewAs('/v1/journeys/none/steps/x/preview', { facts: { firstName: 'Ada' } });
    expect(made.json<{ detail: string }>().detail).toBe('no published journey none');
    const live = await previewAs('/v1/journeys/none/steps/x/preview', { email: 'keyed@example.com' });
    expect(live.statusCode).toBe(403);
    expect(live.json<{ detail: string }>().detail).toBe(
      'previewing a live customer needs the scope customers:read as well',
    );
    const test = await previewAs('/v1/journeys/none/steps/x/send-test', { facts: {} });
    expect(test.json<{ detail: string }>().detail).toBe('this API key lacks the scope journeys:write');
    await stack.api.inject({ method: 'DELETE', url: `/v1/keys/${viewer.id}`, headers: auth(adminKey.key) });

    // A key that sends events cannot change where a customer is reached, or their consent, through an
    // event's profile, nor in a batch or an order; a name it may set. Nothing of a refused request
    // is accepted.
    const tries = [
      { url: '/v1/events', payload: { ...event, id: 'keyed-2', profile: { email: 'attacker@example.com' } } },
      { url: '/v1/events', payload: { ...event, id: 'keyed-3', profile: { phone: '+15005550009' } } },
      {
        url: '/v1/events',
        payload: { ...event, id: 'keyed-4', profile: { consent: { email: { marketing: true } } } },
      },
      {
        url: '/v1/events',
        payload: {
          events: [
            { ...event, id: 'keyed-5' },
            { ...event, id: 'keyed-6', profile: { email: 'x@example.com' } },
          ],
        },
      },
      {
        url: '/v1/orders',
        payload: { customer: event.customer, orderId: 'K-1', total: 1, profile: { phone: '+15005550009' } },
      },
    ];
    for (const attempt of tries) {
      const res = await stack.api.inject({ method: 'POST', ...attempt, headers: auth(shop.key) });
      expect(res.statusCode).toBe(403);
      expect(res.json<{ detail: string }>().detail).toMatch(
        /needs the customers:write scope \((events\[1\]\.)?profile\.(email|phone|consent)\)/,
      );
    }
    const stored = await stack.db.selectFrom('events').select('id').where('id', 'like', 'keyed-%').execute();
    expect(stored.map((e) => e.id)).toEqual(['keyed-1']);
    const named = await stack.api.inject({
      method: 'POST',
      url: '/v1/events',
      headers: auth(shop.key),
      payload: { ...event, id: 'keyed-7', profile: { firstName: 'Kay' } },
    });
    expect(named.statusCode).toBe(202);

    // Stored hashed: the secret is nowhere in the database.
    const rows = await stack.db.selectFrom('api_keys').selectAll().execute();
    const secret = shop.key.slice(`rk_${shop.id}_`.length);
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const listed = (await stack.api.inject({ method: 'GET', url: '/v1/keys', headers: auth(adminKey.key) })).json<{
      keys: { id: string; last4: string }[];
    }>().keys;
    expect(listed.find((k) => k.id === shop.id)!.last4).toBe(shop.key.slice(-4));

    // Revoked: refused at once. A forged key is refused too.
    expect(
      (await stack.api.inject({ method: 'DELETE', url: `/v1/keys/${shop.id}`, headers: auth(adminKey.key) }))
        .statusCode,
    ).toBe(200);
    expect(
      (
        await stack.api.inject({
          method: 'POST',
          url: '/v1/events?wait=routed',
          headers: auth(shop.key),
          payload: event,
        })
      ).statusCode,
    ).toBe(401);
    const forged = `${adminKey.key.slice(0, -4)}AAAA`;
    expect((await stack.api.inject({ method: 'GET', url: '/v1/journeys', headers: auth(forged) })).statusCode).toBe(
      401,
    );

    // The public routes need no key.
    expect((await stack.api.inject({ method: 'GET', url: '/health', ...outside })).statusCode).toBe(200);
    expect((await stack.api.inject({ method: 'GET', url: '/openapi.json', ...outside })).statusCode).toBe(200);

    // Leave the stack as the other tests expect it: no active key.
    await stack.api.inject({ method: 'DELETE', url: `/v1/keys/${adminKey.id}`, headers: auth(adminKey.key) });
  });

  test('each key has its rate limit, and the answer says when to come back', async () => {
    const limited = buildApi({
      db: stack.db,
      intake: stack.intake,
      temporal: stack.temporal,
      protection: stack.protection,
      outboxDir: stack.outboxDir,
      logger: pino({ level: 'silent' }),
      rateLimit: { perKey: 3, public: 2 },
    });
    await limited.ready();
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await limited.inject({ method: 'GET', url: '/v1/journeys' })).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const last = await limited.inject({ method: 'GET', url: '/v1/journeys' });
    expect(last.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    expect(last.json<{ detail: string }>().detail).toMatch(/at most 3 requests a minute/);
    await limited.close();
  });
});

describe('the audit trail', () => {
  test('publish, pause, resume, keys, a merge, an erasure and an import each leave one entry: who, what, on what; never an address', async () => {
    const since = new Date().toISOString();
    // No key yet: the first one is made from this machine, as `local`.
    const admin = (
      await stack.api.inject({ method: 'POST', url: '/v1/keys', payload: { name: 'auditor', scopes: ['admin'] } })
    ).json<{ key: string; id: string }>();
    const headers = { authorization: `Bearer ${admin.key}` };
    const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => {
      const res = await stack.api.inject({ method, url, headers, ...(payload ? { payload } : {}) });
      expect(res.statusCode).toBeLessThan(300);
      return res.json<Record<string, unknown>>();
    };

    const source = `
journey: audited
name: Audited
category: service
trigger: { event: audit.started }
steps:
  - id: hello
    type: send
    channel: email
    subject: "Hello"
    text: "Hello."
`;
    const compiled = compileJourney(source, 'audited.yaml', { readTemplate: () => undefined, liquid: liquidChecker });
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
    await call('POST', '/v1/journeys/publish', { plan: toPlan(compiled.journey), source });
    await call('POST', '/v1/journeys/audited/pause');
    await call('POST', '/v1/journeys/audited/resume');

    const reader = (await call('POST', '/v1/keys', { name: 'reader', scopes: ['customers:read'] })) as {
      id: string;
      key: string;
    };
    // The trail shows every key's actions: admin keys only.
    expect(
      (await stack.api.inject({ method: 'GET', url: '/v1/audit', headers: { authorization: `Bearer ${reader.key}` } }))
        .statusCode,
    ).toBe(403);
    await call('DELETE', `/v1/keys/${reader.id}`);

    const customer = (await call('POST', '/v1/customers', {
      customer: { email: 'audit.me@example.com' },
      profile: { firstName: 'Audrey' },
    })) as { customer: { id: string } };
    const duplicate = (await call('POST', '/v1/customers', { customer: { phone: '+14155550177' } })) as {
      customer: { id: string };
    };
    await call('POST', '/v1/customers/merge', { into: customer.customer.id, from: duplicate.customer.id });
    await call('POST', '/v1/customers/audit.me@example.com/erase');
    const imported = await call('POST', '/v1/imports/customers', {
      rows: [
        { line: 2, fields: { email: 'imported.audit@example.com', firstName: 'Imogen' } },
        { line: 3, fields: { firstName: 'No identity' } },
      ],
    });
    expect(imported).toMatchObject({ imported: 1, unchanged: 0, errors: [{ line: 3 }] });

    const page = (await call('GET', `/v1/audit?since=${encodeURIComponent(since)}`)) as {
      entries: { actor: string; actorKeyId: string | null; action: string; target: string; detail: unknown }[];
      next: string | null;
    };
    expect(page.next).toBeNull();
    const auditor = { actor: 'auditor', actorKeyId: admin.id };
    expect(page.entries).toEqual(
      [
        {
          ...auditor,
          action: 'import',
          target: 'import:customers',
          detail: { imported: 1, unchanged: 0, errors: 1 },
        },
        {
          ...auditor,
          action: 'customer.erase',
          target: `customer:${customer.customer.id}`,
          detail: { mergedIds: [duplicate.customer.id], keysDestroyed: expect.any(Number) as number, cancelled: [] },
        },
        {
          ...auditor,
          action: 'customer.merge',
          target: `customer:${customer.customer.id}`,
          detail: { merged: duplicate.customer.id },
        },
        { ...auditor, action: 'key.revoke', target: `key:${reader.id}`, detail: {} },
        {
          ...auditor,
          action: 'key.create',
          target: `key:${reader.id}`,
          detail: { name: 'reader', scopes: ['customers:read'] },
        },
        { ...auditor, action: 'journey.resume', target: 'journey:audited', detail: {} },
        { ...auditor, action: 'journey.pause', target: 'journey:audited', detail: {} },
        {
          ...auditor,
          action: 'journey.publish',
          target: 'journey:audited',
          detail: { version: 1, contentHash: expect.stringMatching(/^[0-9a-f]{64}$/) as string },
        },
        {
          actor: 'local',
          actorKeyId: null,
          action: 'key.create',
          target: `key:${admin.id}`,
          detail: { name: 'auditor', scopes: ['admin'] },
        },
      ].map((e) => ({ ...e, id: expect.any(Number) as number, at: expect.any(String) as string })),
    );
    // Ids and counts only: the customer was named by address, the trail names them by id.
    expect(JSON.stringify(page.entries)).not.toMatch(/audit\.me|imported\.audit|Audrey|Imogen|4155550177/);

    const bad = await stack.api.inject({ method: 'GET', url: '/v1/audit?since=yesterday&action=Journey', headers });
    expect(bad.statusCode).toBe(422);
    expect(
      bad
        .json<{ errors: { path: string }[] }>()
        .errors.map((e) => e.path)
        .sort(),
    ).toEqual(['query.action', 'query.since']);

    // Leave the stack as the other tests expect it: no active key.
    await call('DELETE', `/v1/keys/${admin.id}`);
  });
});

describe('the typed client', () => {
  test('retries an event whose answer was lost, and the event takes effect once', async () => {
    const url = await stack.api.listen({ host: '127.0.0.1', port: 0 });
    const target = new URL(url);
    let requests = 0;
    // Forwards every request; the answer to the first is lost (the connection is cut).
    const proxy = http.createServer((req, res) => {
      const n = ++requests;
      const upstream = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          if (n === 1) {
            up.resume();
            up.on('end', () => res.socket?.destroy());
            return;
          }
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const client = new RapportClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
      const receipt = await client.sendEvent(
        { id: 'lost-answer-1', type: 'trial.started', customer: { email: 'lost@example.com' } },
        undefined,
        { waitForRouting: true },
      );
      expect(requests).toBe(2);
      expect(receipt.enrolled.map((e) => e.journey)).toEqual(['trial']);
      const { count } = await stack.db
        .selectFrom('enrollments')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .where('customer_id', '=', receipt.customerId)
        .executeTakeFirstOrThrow();
      expect(Number(count)).toBe(1);

      // Typed calls over the same client: an order, a customer, the enrollments.
      await client.placeOrder({ customer: { email: 'lost@example.com' }, orderId: 'L-1', total: 10 });
      const c = await client.upsertCustomer({ email: 'lost@example.com' }, { firstName: 'Lou' });
      expect(c.customer).toMatchObject({ firstName: 'Lou', metrics: { orderCount: 1 } });
      expect((await client.listEnrollments('trial', { status: 'active' })).map((e) => e.customerId)).toContain(
        receipt.customerId,
      );
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
