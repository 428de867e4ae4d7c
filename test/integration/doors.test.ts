/**
 * The API's doors, each tried as an attacker would: open mode (before the first key) reached through a
 * proxy, by another site's page or by DNS rebinding; a form posted cross-site to an admin route; the
 * outbox without a key; guessed and malformed keys; floods against the public routes, which must not
 * stop a signed opt-out from Twilio; oversized public bodies.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import twilio from 'twilio';
import { unsubscribeKeys } from '../../activities/channels/unsubscribe';
import { activeSuppression } from '../../activities/store/consent';
import { buildApi } from '../../client/server/api/server';
import { startTestStack, TEST_PUBLIC_URL, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
let stack: TestStack;
const queries: string[] = [];
const TWILIO = {
  url: 'http://127.0.0.1:9',
  accountSid: `AC${'0'.repeat(32)}`,
  authToken: 'doors-auth-token',
  from: '+15005550006',
};

beforeAll(async () => {
  env = await timeSkippingEnv();
  stack = await startTestStack(env, { journeysDirs: [], twilio: TWILIO, onQuery: (q) => void queries.push(q) });
});
afterAll(async () => {
  await stack?.close();
  await env?.teardown();
});

const newKey = { name: 'door test', scopes: ['admin'] };

describe('open mode, before the first key: this machine only', () => {
  test('a request made on this machine may create the first key (the control)', async () => {
    const res = await stack.api.inject({ method: 'GET', url: '/v1/keys' });
    expect(res.statusCode).toBe(200);
  });

  test.each([
    ['through a reverse proxy (X-Forwarded-For)', { 'x-forwarded-for': '203.0.113.9' }],
    ['through a reverse proxy (Forwarded)', { forwarded: 'for=203.0.113.9;proto=https' }],
    ['through a proxy (Via)', { via: '1.1 edge' }],
    ['through a proxy (X-Real-IP)', { 'x-real-ip': '203.0.113.9' }],
    ['by a DNS-rebinding page (its own Host)', { host: 'attacker.example:3000' }],
    ['by another site’s page (Origin)', { origin: 'https://attacker.example' }],
    ['by another site’s page (Sec-Fetch-Site)', { 'sec-fetch-site': 'cross-site' }],
  ])('is refused %s: no key is made, no mail is read', async (_how, headers) => {
    const mint = await stack.api.inject({ method: 'POST', url: '/v1/keys', headers, payload: newKey });
    expect(mint.statusCode).toBe(401);
    expect(mint.json<{ detail: string }>().detail).toMatch(/not through a proxy or from another site/);
    for (const url of ['/outbox', '/v1/outbox', '/v1/customers/ann@example.com']) {
      expect((await stack.api.inject({ method: 'GET', url, headers })).statusCode).toBe(401);
    }
    expect((await stack.api.inject({ method: 'GET', url: '/v1/keys' })).json<{ keys: unknown[] }>().keys).toEqual([]);
  });

  test('a form another site posts to an admin route is not parsed: 415, nothing made', async () => {
    const res = await stack.api.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'name=attacker&scopes=admin',
    });
    expect(res.statusCode).toBe(415);
    expect((await stack.api.inject({ method: 'GET', url: '/v1/keys' })).json<{ keys: unknown[] }>().keys).toEqual([]);
  });
});

describe('once a key exists', () => {
  let admin: { id: string; key: string };
  let sender: { id: string; key: string };
  beforeAll(async () => {
    admin = (await stack.api.inject({ method: 'POST', url: '/v1/keys', payload: newKey })).json();
    sender = (
      await stack.api.inject({
        method: 'POST',
        url: '/v1/keys',
        headers: { authorization: `Bearer ${admin.key}` },
        payload: { name: 'shop', scopes: ['events:write'] },
      })
    ).json();
  });
  afterAll(async () => {
    for (const k of [sender, admin])
      await stack.api.inject({
        method: 'DELETE',
        url: `/v1/keys/${k.id}`,
        headers: { authorization: `Bearer ${admin.key}` },
      });
  });

  test('the outbox needs a key with customers:read, which a browser gives as a password', async () => {
    const bare = await stack.api.inject({ method: 'GET', url: '/outbox' });
    expect(bare.statusCode).toBe(401);
    expect(bare.headers['www-authenticate']).toMatch(/^Basic realm="Rapport outbox"/);
    const basic = (key: string) => `Basic ${Buffer.from(`ops:${key}`).toString('base64')}`;
    expect(
      (await stack.api.inject({ method: 'GET', url: '/outbox', headers: { authorization: basic(admin.key) } }))
        .statusCode,
    ).toBe(200);
    expect(
      (await stack.api.inject({ method: 'GET', url: '/outbox', headers: { authorization: basic(sender.key) } }))
        .statusCode,
    ).toBe(403);
    expect((await stack.api.inject({ method: 'GET', url: '/v1/outbox' })).statusCode).toBe(401);
  });

  test('the codec endpoint: admin keys only; the Temporal UI’s page may call it, other sites may not', async () => {
    const ui = 'http://127.0.0.1:8233';
    const preflight = (origin: string) =>
      stack.api.inject({
        method: 'OPTIONS',
        url: '/v1/codec/decode',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    const allowed = await preflight(ui);
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(ui);
    expect(allowed.headers['access-control-allow-headers']).toContain('authorization');
    expect((await preflight('https://attacker.example')).statusCode).toBe(403);
    const decode = (key: string) =>
      stack.api.inject({
        method: 'POST',
        url: '/v1/codec/decode',
        headers: { authorization: `Bearer ${key}`, origin: ui },
        payload: { payloads: [] },
      });
    const byAdmin = await decode(admin.key);
    expect(byAdmin.statusCode).toBe(200);
    expect(byAdmin.headers['access-control-allow-origin']).toBe(ui);
    expect((await decode(sender.key)).statusCode).toBe(403);
  });

  test('malformed tokens cost no query, and an address that keeps guessing is refused for the minute', async () => {
    const guesser = { remoteAddress: '198.51.100.7' };
    queries.length = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) {
      const res = await stack.api.inject({
        method: 'GET',
        url: '/v1/journeys',
        headers: { authorization: `Bearer guess-${i}` },
        ...guesser,
      });
      statuses.push(res.statusCode);
    }
    expect(queries.filter((q) => q.includes('api_keys'))).toEqual([]);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses.slice(30)).toEqual(Array(5).fill(429));
    // Even its right key waits out the minute; another address is not affected.
    const blocked = await stack.api.inject({
      method: 'GET',
      url: '/v1/journeys',
      headers: { authorization: `Bearer ${admin.key}` },
      ...guesser,
    });
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    const other = await stack.api.inject({
      method: 'GET',
      url: '/v1/journeys',
      headers: { authorization: `Bearer ${admin.key}` },
      remoteAddress: '198.51.100.8',
    });
    expect(other.statusCode).toBe(200);
  });
});

describe('the public routes', () => {
  const api = () =>
    buildApi({
      db: stack.db,
      intake: stack.intake,
      temporal: stack.temporal,
      protection: stack.protection,
      outboxDir: stack.outboxDir,
      logger: pino({ level: 'silent' }),
      rateLimit: { perKey: 100, public: 3 },
      channels: {
        publicUrl: TEST_PUBLIC_URL,
        unsubscribeKeys: unsubscribeKeys('doors-unsubscribe-secret-0123456789abcdef', []),
        twilioAuthToken: TWILIO.authToken,
        smsHelpText: 'help',
      },
    });
  const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
  const signature = (path: string, params: Record<string, string>, token = TWILIO.authToken) =>
    twilio.getExpectedTwilioSignature(token, `${TEST_PUBLIC_URL}${path}`, params);
  /** An inbound SMS webhook as Twilio posts it, signed with `token`, from `remoteAddress`. */
  const inbound = (
    app: { inject: TestStack['api']['inject'] },
    params: Record<string, string>,
    token = TWILIO.authToken,
    remoteAddress = '127.0.0.1',
  ) =>
    app.inject({
      method: 'POST',
      url: '/webhooks/twilio/inbound',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature('/webhooks/twilio/inbound', params, token),
      },
      payload: form(params),
      remoteAddress,
    });

  test('a flood does not stop a signed STOP from Twilio', async () => {
    const app = api();
    await app.ready();
    const customer = await stack.sendEvent({
      id: 'doors-stop',
      type: 'doors.noop',
      customer: { phone: '+14155550199' },
    });
    const flood = { remoteAddress: '203.0.113.50' };
    const floodStatuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await app.inject({
        method: 'POST',
        url: '/u/forged-token',
        payload: 'List-Unsubscribe=One-Click',
        ...flood,
      });
      floodStatuses.push(res.statusCode);
    }
    expect(floodStatuses.slice(3)).toEqual([429, 429, 429]);
    // Twilio, from the same address as the flood (a shared egress), is signed and passes.
    const params = { MessageSid: 'SMdoorsstop', From: '+14155550199', To: TWILIO.from, Body: 'STOP' };
    const stop = await inbound(app, params, TWILIO.authToken, flood.remoteAddress);
    expect(stop.statusCode).toBe(200);
    expect(await activeSuppression(stack.db, customer.customerId, 'sms')).toBe('stop');
    await app.close();
  });

  test('forged signatures count against their address; past the limit it waits the minute', async () => {
    const app = api();
    await app.ready();
    const params = { MessageSid: 'SMforged', From: '+14155550198', To: TWILIO.from, Body: 'START' };
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++)
      statuses.push((await inbound(app, params, 'not-the-token', '203.0.113.66')).statusCode);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(403));
    expect(statuses.slice(30)).toEqual([429, 429]);
    await app.close();
  });

  test('a public body over 64 KiB is refused before it is parsed', async () => {
    const params = { MessageSid: 'SMbig', From: '+14155550197', To: TWILIO.from, Body: 'x'.repeat(70 * 1024) };
    expect((await inbound(stack.api, params)).statusCode).toBe(413);
    const unsubscribe = await stack.api.inject({
      method: 'POST',
      url: '/u/some-token',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      payload: 'x'.repeat(70 * 1024),
    });
    expect(unsubscribe.statusCode).toBe(413);
  });
});
