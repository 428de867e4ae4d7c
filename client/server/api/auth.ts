/**
 * Who may call the API, and how often.
 *
 * Every /v1 route needs an API key (`Authorization: Bearer rk_...`) with the route's scope. Until the
 * first key exists, the API is open to this machine only (loopback), so `rapport keys create` can
 * make that first key; from anywhere else it answers 401. Public routes (health, unsubscribe links,
 * Twilio's webhooks, the API documentation) carry their own checks. The local outbox pages are for
 * this machine only.
 *
 * Verified keys are kept in memory for a few seconds; a revoked key stops working at once in the
 * process that revoked it, and within that time in the others.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../../activities/db/database';
import { activeKeyCount, allows, type Scope, touchApiKey, verifyApiKey } from '../../../activities/store/api-keys';
import { sendProblem } from './problems';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key that made the request, once verified. */
    apiKey?: { id: string; scopes: Scope[] };
  }
}

const CACHE_MS = 5_000;

/** The scope a /v1 route needs; undefined for routes that are not behind keys. */
function scopeFor(method: string, requestUrl: string): Scope | 'local' | undefined {
  const read = method === 'GET' || method === 'HEAD';
  const url = requestUrl.split('?')[0]!;
  if (url === '/health' || url.startsWith('/u/') || url.startsWith('/webhooks/') || url.startsWith('/docs')) {
    return undefined;
  }
  if (url === '/outbox' || url.startsWith('/outbox/')) return 'local';
  if (!url.startsWith('/v1/')) return undefined;
  if (url.startsWith('/v1/keys')) return 'admin';
  // Who sends events reads their receipts and retries them.
  if (url === '/v1/events' || url === '/v1/orders' || url.startsWith('/v1/events/')) return 'events:write';
  if (url.startsWith('/v1/imports/')) return 'customers:write';
  if (url.startsWith('/v1/customers') || url === '/v1/outbox') return read ? 'customers:read' : 'customers:write';
  if (url.startsWith('/v1/journeys') || url.startsWith('/v1/enrollments'))
    return read ? 'journeys:read' : 'journeys:write';
  if (url.startsWith('/v1/tasks')) return read ? 'tasks:read' : 'tasks:write';
  // A route nobody gave a scope: only admin keys.
  return 'admin';
}

const isLoopback = (ip: string) => ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';

export function createAuth(db: Db) {
  const cache = new Map<string, { key: { id: string; scopes: Scope[] } | undefined; until: number }>();
  let keysExist: { value: boolean; until: number } | undefined;
  const touched = new Map<string, number>();

  async function anyKeys(): Promise<boolean> {
    if (keysExist && keysExist.until > Date.now()) return keysExist.value;
    const value = (await activeKeyCount(db)) > 0;
    keysExist = { value, until: Date.now() + CACHE_MS };
    return value;
  }

  async function lookup(token: string) {
    const hit = cache.get(token);
    if (hit && hit.until > Date.now()) return hit.key;
    const key = await verifyApiKey(db, token);
    cache.set(token, { key, until: Date.now() + CACHE_MS });
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return key;
  }

  /** The onRequest hook. */
  async function check(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const needed = scopeFor(req.method, req.routeOptions.url ?? req.url.split('?')[0]!);
    if (needed === undefined) return undefined;
    if (needed === 'local') {
      if (isLoopback(req.ip)) return undefined;
      return sendProblem(reply, 403, 'Forbidden', 'the outbox pages are only served to this machine');
    }
    const header = req.headers.authorization;
    const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!token) {
      if (!(await anyKeys()) && isLoopback(req.ip)) return undefined;
      return sendProblem(
        reply,
        401,
        'Unauthorized',
        (await anyKeys())
          ? 'send an API key: Authorization: Bearer rk_...'
          : 'no API key exists yet: create the first one on the machine Rapport runs on, with `rapport keys create`',
      );
    }
    const key = await lookup(token);
    if (!key) return sendProblem(reply, 401, 'Unauthorized', 'the API key is unknown or revoked');
    if (!allows(key.scopes, needed)) {
      return sendProblem(reply, 403, 'Forbidden', `this API key lacks the scope ${needed}`);
    }
    req.apiKey = key;
    const last = touched.get(key.id) ?? 0;
    if (Date.now() - last > 60_000) {
      touched.set(key.id, Date.now());
      void touchApiKey(db, key.id).catch(() => undefined);
    }
    return undefined;
  }

  /** Forgets what was cached: after a key is created or revoked here. */
  function forget(): void {
    cache.clear();
    keysExist = undefined;
  }

  return { check, forget };
}
