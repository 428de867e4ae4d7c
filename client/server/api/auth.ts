/**
 * Who may call the API, and how often.
 *
 * Every /v1 route needs an API key (`Authorization: Bearer rk_...`, or the console's session for one)
 * with the route's scope, and the
 * outbox pages one with customers:read (a browser asks for it as a password). Until the first key
 * exists, the API is open to requests made on this machine only (isLocalRequest), so `rapport keys
 * create` can make that first key; anything else gets 401. Public routes (health, unsubscribe links,
 * Twilio's webhooks, the API documentation) carry their own checks.
 *
 * Verified keys are kept in memory for a few seconds, by their hash; a revoked key stops working at
 * once in the process that revoked it, and within that time in the others. An address whose requests
 * are refused too often (unknown keys, forged Twilio signatures) is refused for the rest of the minute.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../../../activities/db/database';
import {
  activeKeyCount,
  allows,
  type Scope,
  touchApiKey,
  verifyApiKey,
  wellFormedApiKey,
} from '../../../activities/store/api-keys';
import type { AuditActor } from '../../../activities/store/audit';
import { consoleSessionKey } from '../../../activities/store/console-sessions';
import { sendProblem } from './problems';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key that made the request, once verified. */
    apiKey?: { id: string; name: string; scopes: Scope[] };
  }
}

const CACHE_MS = 5_000;
/** The scope a /v1 route needs; undefined for routes that are not behind keys. */
function scopeFor(method: string, requestUrl: string): Scope | undefined {
  const read = method === 'GET' || method === 'HEAD';
  const url = requestUrl.split('?')[0]!;
  if (url === '/health' || url.startsWith('/u/') || url.startsWith('/webhooks/') || url.startsWith('/docs')) {
    return undefined;
  }
  // The outbox holds customers' mail.
  if (url === '/outbox' || url.startsWith('/outbox/')) return 'customers:read';
  if (!url.startsWith('/v1/')) return undefined;
  // A browser's preflight for the codec endpoint carries no key; the POST that follows does.
  if (method === 'OPTIONS' && url.startsWith('/v1/codec/')) return undefined;
  if (url.startsWith('/v1/keys')) return 'admin';
  // Who did what: every key's actions, so only admin keys read it.
  if (url.startsWith('/v1/audit')) return 'admin';
  // Who sends events reads their receipts, retries them and sees the router's backlog.
  if (url === '/v1/events' || url === '/v1/orders' || url.startsWith('/v1/events/') || url === '/v1/routing') {
    return 'events:write';
  }
  if (url.startsWith('/v1/imports/')) return 'customers:write';
  if (url.startsWith('/v1/customers') || url === '/v1/outbox') return read ? 'customers:read' : 'customers:write';
  if (url.startsWith('/v1/accounts')) return read ? 'customers:read' : 'customers:write';
  // A preview only reads; the route asks for customers:read as well when it reads a live customer.
  // A test send (send-test) sends for real: journeys:write, as publishing.
  if (method === 'POST' && /^\/v1\/journeys\/[^/]+\/steps\/[^/]+\/preview$/.test(url)) return 'journeys:read';
  // A simulation runs apart, on its own database, and sends nothing: it only reads.
  if (method === 'POST' && /^\/v1\/journeys\/[^/]+\/simulate$/.test(url)) return 'journeys:read';
  if (url.startsWith('/v1/journeys') || url.startsWith('/v1/enrollments'))
    return read ? 'journeys:read' : 'journeys:write';
  if (url.startsWith('/v1/tasks')) return read ? 'tasks:read' : 'tasks:write';
  // Fitting the models reads every order and takes a while: admin keys only.
  if (url === '/v1/insights') return read ? 'customers:read' : 'admin';
  // A route nobody gave a scope: only admin keys.
  return 'admin';
}

/**
 * Who made a request, for the audit trail: its API key, or `local` when it came without one, which
 * the API allows only from this machine and only before the first key exists.
 */
export function actorOf(req: FastifyRequest): AuditActor {
  return req.apiKey ? { name: req.apiKey.name, keyId: req.apiKey.id } : { name: 'local', keyId: null };
}

/** Refused requests (an unknown key, a forged signature) an address may make in a minute. */
const FAILURES_PER_MINUTE = 30;

/** Headers a proxy adds: a request that carries one did not come from this machine, whatever its address. */
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via'];
const isLoopback = (ip: string) => ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
/** Whether a URL (an Origin, or http:// and a Host) names this machine. */
const namesLoopback = (url: string) => /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(URL.parse(url)?.hostname ?? '');

/**
 * Whether a request comes from this machine itself, as open mode (no key yet) requires: a loopback
 * address, no proxy's forwarding header (behind a reverse proxy on this host every request comes from
 * 127.0.0.1), a loopback Host (a DNS-rebinding page sends its own name), and no other site's Origin
 * (a page the operator visits).
 */
function isLocalRequest(req: Pick<FastifyRequest, 'ip' | 'headers'>): boolean {
  if (!isLoopback(req.ip)) return false;
  if (FORWARDING_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
  const host = req.headers.host;
  if (typeof host !== 'string' || !namesLoopback(`http://${host}`)) return false;
  const origin = req.headers.origin;
  if (origin !== undefined && !(typeof origin === 'string' && namesLoopback(origin))) return false;
  return req.headers['sec-fetch-site'] !== 'cross-site';
}

/**
 * A console session's token, when the console calls the API for a signed-in person
 * (`Authorization: Session cs_...`, client/server/console/): the session stands for its API key. A
 * browser never sends this header by itself, so it carries no cross-site request.
 */
function sessionOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  return typeof header === 'string' && header.startsWith('Session ') ? header.slice(8).trim() : undefined;
}

/** The key a request carries: `Authorization: Bearer rk_...`, or as a Basic password (a browser's prompt). */
function tokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  if (header.startsWith('Session ')) return sessionOf(req);
  if (header.startsWith('Bearer ')) return header.slice(7).trim() || undefined;
  if (header.startsWith('Basic ')) {
    const pair = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    return pair.slice(pair.indexOf(':') + 1) || undefined;
  }
  return undefined;
}

/**
 * Refusals counted per address over a minute: past the limit, the address gets 429 before any key
 * is looked up or any signature computed. Bounded: the oldest addresses are dropped first.
 */
export class FailureLimiter {
  private readonly counts = new Map<string, { n: number; until: number }>();
  constructor(
    private readonly max = FAILURES_PER_MINUTE,
    private readonly windowMs = 60_000,
    private readonly size = 10_000,
  ) {}

  note(address: string): void {
    const now = Date.now();
    const count = this.counts.get(address);
    if (count && count.until > now) count.n++;
    else {
      this.counts.delete(address);
      this.counts.set(address, { n: 1, until: now + this.windowMs });
      if (this.counts.size > this.size) this.counts.delete(this.counts.keys().next().value!);
    }
  }

  /** Seconds until the address may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const count = this.counts.get(address);
    if (!count || count.until <= Date.now() || count.n < this.max) return 0;
    return Math.ceil((count.until - Date.now()) / 1000);
  }

  /** Answers 429 (with Retry-After) when the request's address is refused for now; whether it did. */
  refused(req: FastifyRequest, reply: FastifyReply): boolean {
    const wait = this.blockedFor(req.ip);
    if (wait === 0) return false;
    void reply.header('retry-after', String(wait));
    void sendProblem(
      reply,
      429,
      'Too many requests',
      `too many refused requests from this address; try again in ${wait} s`,
    );
    return true;
  }
}

export function createAuth(db: Db, failures: FailureLimiter) {
  /** Verified keys by the SHA-256 of the token: the tokens themselves are not kept. */
  const cache = new Map<string, { key: { id: string; name: string; scopes: Scope[] } | undefined; until: number }>();
  let keysExist: { value: boolean; until: number } | undefined;
  const touched = new Map<string, number>();

  async function anyKeys(): Promise<boolean> {
    if (keysExist && keysExist.until > Date.now()) return keysExist.value;
    const value = (await activeKeyCount(db)) > 0;
    keysExist = { value, until: Date.now() + CACHE_MS };
    return value;
  }

  async function lookup(token: string) {
    // A token that is not a key's shape is refused without a query, and not remembered.
    if (!wellFormedApiKey(token)) return undefined;
    const digest = createHash('sha256').update(token).digest('base64url');
    const hit = cache.get(digest);
    if (hit && hit.until > Date.now()) return hit.key;
    const key = await verifyApiKey(db, token);
    cache.delete(digest);
    cache.set(digest, { key, until: Date.now() + CACHE_MS });
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return key;
  }

  const refuse = (req: FastifyRequest, reply: FastifyReply, status: 401 | 403, detail: string, basic = false) => {
    // A key that was tried and failed counts; a request without one only asks (a browser, the CLI).
    if (tokenOf(req)) failures.note(req.ip);
    if (basic) void reply.header('www-authenticate', 'Basic realm="Rapport outbox", charset="UTF-8"');
    return sendProblem(reply, status, status === 401 ? 'Unauthorized' : 'Forbidden', detail);
  };

  /** The onRequest hook. */
  async function check(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const needed = scopeFor(req.method, req.routeOptions.url ?? req.url.split('?')[0]!);
    if (needed === undefined) return undefined;
    if (failures.refused(req, reply)) return reply;
    // The outbox pages are read in a browser: it asks for the key as a password.
    const page = req.url === '/outbox' || req.url.startsWith('/outbox/');
    const token = tokenOf(req);
    if (!token) {
      if (!(await anyKeys())) {
        if (isLocalRequest(req)) return undefined;
        return refuse(
          req,
          reply,
          401,
          'no API key exists yet, and until one does the API answers only requests made on this machine, not ' +
            'through a proxy or from another site: create the first key there with `rapport keys create`',
        );
      }
      return refuse(
        req,
        reply,
        401,
        page
          ? 'the outbox needs an API key with customers:read (as the password)'
          : 'send an API key: Authorization: Bearer rk_...',
        page,
      );
    }
    const session = sessionOf(req);
    const key = session ? await consoleSessionKey(db, session) : await lookup(token);
    if (!key) {
      return refuse(
        req,
        reply,
        401,
        session ? 'the console session has ended: sign in again' : 'the API key is unknown or revoked',
        page,
      );
    }
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
