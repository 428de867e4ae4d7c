/**
 * The console at /console: pages for ops teams and support staff, served by Rapport itself.
 *
 * Server-rendered HTML (Liquid templates) with htmx for the parts that refresh in place, both served
 * from this process: no build step, no CDN. Signing in takes an API key; the session is a random
 * token in an HttpOnly, SameSite=Strict cookie (Secure over https) whose hash is kept in the
 * database, and every form that writes carries a CSRF token (@fastify/csrf-protection, its secret
 * in a cookie of its own). Each page calls the HTTP API for the session (core.ts), so a key's scopes
 * decide what a page shows and what it may change.
 */
import fs from 'node:fs';
import path from 'node:path';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest, InjectOptions } from 'fastify';
import type { Db } from '../../../activities/db/database';
import { activeKeyCount, verifyApiKey, wellFormedApiKey } from '../../../activities/store/api-keys';
import { recordAudit } from '../../../activities/store/audit';
import {
  CONSOLE_SESSION_MS,
  consoleSessionKey,
  createConsoleSession,
  endConsoleSession,
} from '../../../activities/store/console-sessions';
import { consoleViewsDir } from '../../../paths';
import type { FailureLimiter } from '../api/auth';
import { abilities, ApiFailure, render } from './core';
import { customerPages } from './customers';
import { eventPages } from './events';
import { inboxPages } from './inbox';
import { journeyPages } from './journeys';
import { publishPages } from './publish';

const SESSION_COOKIE = 'rapport_session';

export interface ConsoleDeps {
  db: Db;
  failures: FailureLimiter;
  /**
   * Rapport's public address (RAPPORT_PUBLIC_URL): when it is https, the cookies are Secure even if
   * the request reached Rapport over http from a proxy that ended TLS.
   */
  publicUrl?: string | undefined;
  /** The whole API, called in the process for a signed-in session. */
  inject: (options: InjectOptions) => Promise<{ statusCode: number; body: string }>;
}

/** The assets the pages load, read once: htmx from its package, the style sheet from views/. */
function assets(): Record<string, { type: string; body: Buffer }> {
  return {
    'htmx.min.js': {
      type: 'text/javascript; charset=utf-8',
      body: fs.readFileSync(require.resolve('htmx.org/dist/htmx.min.js')),
    },
    'console.css': {
      type: 'text/css; charset=utf-8',
      body: fs.readFileSync(path.join(consoleViewsDir, 'console.css')),
    },
  };
}

/** Where a signed-in key lands: the first part of the console its scopes open. */
function homeOf(scopes: Parameters<typeof abilities>[0]): string {
  const can = abilities(scopes);
  if (can.journeysRead) return '/console/journeys';
  if (can.tasksRead) return '/console/inbox';
  if (can.customersRead) return '/console/customers';
  if (can.events) return '/console/events';
  return '/console/none';
}

/** A path inside the console to go back to after signing in; anything else goes home. */
function safeNext(next: unknown): string | undefined {
  return typeof next === 'string' &&
    /^\/console(\/[A-Za-z0-9/_\-.%]*)?(\?[^\s]*)?$/.test(next) &&
    !next.startsWith('//')
    ? next
    : undefined;
}

export function consolePlugin(deps: ConsoleDeps) {
  const files = assets();
  const httpsBehindProxy = deps.publicUrl?.startsWith('https://') ?? false;
  const secure = (req: FastifyRequest) => httpsBehindProxy || req.protocol === 'https';
  return async (scope: FastifyInstance) => {
    await scope.register(cookie);
    await scope.register(csrf, {
      cookieKey: 'rapport_csrf',
      cookieOpts: {
        path: '/console',
        sameSite: 'strict',
        httpOnly: true,
        secure: httpsBehindProxy ? true : 'auto',
        signed: false,
      },
    });
    await scope.register(formbody);

    scope.addHook('onSend', async (_req, reply, payload) => {
      // Nothing from elsewhere: scripts and styles are the console's own files.
      void reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
      );
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('referrer-policy', 'same-origin');
      if (!reply.getHeader('cache-control')) void reply.header('cache-control', 'no-store');
      return payload;
    });

    // Every page but sign-in and the assets needs a session; a request without one is sent to sign in.
    scope.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
      const url = req.url.split('?')[0]!;
      if (url === '/console/sign-in' || url.startsWith('/console/assets/')) return;
      const token = req.cookies[SESSION_COOKIE];
      const key = token ? await consoleSessionKey(deps.db, token) : undefined;
      if (!token || !key) {
        if (req.method === 'GET' && !req.headers['hx-request']) {
          return reply.redirect(`/console/sign-in?next=${encodeURIComponent(req.url)}`, 303);
        }
        // An htmx request or a form after the session ended: the whole page goes to sign in.
        void reply.header('hx-redirect', '/console/sign-in');
        return render(req, reply, 'signed-out', {}, 401);
      }
      req.consoleSession = { token, key };
    });

    // Every form that writes carries the CSRF token (a hidden field, or htmx's header).
    scope.addHook('preHandler', (req, reply, done) => {
      if (req.method === 'POST' && !reply.sent) scope.csrfProtection(req, reply, done);
      else done();
    });

    scope.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, req, reply) => {
      if (err instanceof ApiFailure) {
        return render(req, reply, 'error', { title: err.title, detail: err.detail, errors: err.errors }, err.status);
      }
      if (err.code?.startsWith('FST_CSRF')) {
        return render(
          req,
          reply,
          'error',
          {
            title: 'The form could not be sent',
            detail: 'It had expired or did not come from this console. Reload the page and try again.',
          },
          403,
        );
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) req.log.error({ err }, 'console page failed');
      return render(
        req,
        reply,
        'error',
        {
          title: status === 500 ? 'Something went wrong' : 'Bad request',
          detail: status === 500 ? 'See the server log.' : err.message,
        },
        status,
      );
    });

    scope.get('/console/assets/:name', async (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
      const file = files[req.params.name];
      if (!file) return reply.code(404).type('text/plain').send('not found');
      return reply.header('cache-control', 'public, max-age=3600').type(file.type).send(file.body);
    });

    scope.get('/console', async (req, reply) => reply.redirect(homeOf(req.consoleSession!.key.scopes), 303));

    scope.get('/console/none', async (req, reply) => render(req, reply, 'none'));

    scope.get('/console/sign-in', async (req: FastifyRequest<{ Querystring: { next?: string } }>, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      const key = token ? await consoleSessionKey(deps.db, token) : undefined;
      if (key) return reply.redirect(safeNext(req.query.next) ?? homeOf(key.scopes), 303);
      return render(req, reply, 'sign-in', {
        next: safeNext(req.query.next),
        noKeys: (await activeKeyCount(deps.db)) === 0,
      });
    });

    scope.post(
      '/console/sign-in',
      async (req: FastifyRequest<{ Body: { key?: string; next?: string } }>, reply: FastifyReply) => {
        if (deps.failures.refused(req, reply)) return reply;
        const given = typeof req.body?.key === 'string' ? req.body.key.trim() : '';
        const key = wellFormedApiKey(given) ? await verifyApiKey(deps.db, given) : undefined;
        if (!key) {
          if (given) deps.failures.note(req.ip);
          return render(
            req,
            reply,
            'sign-in',
            {
              next: safeNext(req.body?.next),
              error: given
                ? 'That API key is unknown or revoked.'
                : 'Enter an API key (rk_…). `rapport keys create` makes one.',
            },
            401,
          );
        }
        const token = await createConsoleSession(deps.db, key.id);
        await recordAudit(deps.db, {
          actor: { name: key.name, keyId: key.id },
          action: 'console.sign-in',
          target: `key:${key.id}`,
          detail: {},
        });
        void reply.setCookie(SESSION_COOKIE, token, {
          path: '/console',
          httpOnly: true,
          sameSite: 'strict',
          secure: secure(req),
          maxAge: CONSOLE_SESSION_MS / 1000,
        });
        return reply.redirect(safeNext(req.body.next) ?? homeOf(key.scopes), 303);
      },
    );

    scope.post('/console/sign-out', async (req, reply) => {
      await endConsoleSession(deps.db, req.consoleSession!.token);
      void reply.clearCookie(SESSION_COOKIE, { path: '/console' });
      return reply.redirect('/console/sign-in', 303);
    });

    journeyPages(scope, deps.inject);
    publishPages(scope, deps.inject);
    customerPages(scope, deps.inject);
    inboxPages(scope, deps.inject);
    eventPages(scope, deps.inject);
  };
}
