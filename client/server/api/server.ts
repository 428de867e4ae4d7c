/**
 * The HTTP API: events in, customers and journeys out, and the local outbox for people to read.
 * Every request body, query and path is validated by zod; the same schemas describe the API in the
 * OpenAPI document (/openapi.json), browsable at /docs.
 */
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { type Db, isDatabaseUnavailable } from '../../../activities/db/database';
import type { Previews } from '../../../activities/previews';
import type { EventIntake } from '../events/intake';
import type { Simulator } from '../journeys/simulation';
import type { ParsedEvent } from '../events/schema';
import { isTemporalUnavailable } from '../events/router';
import type { DataProtection } from '../protection';
import { type App, createApp, RequestValidationError } from './app';
import { createAuth, FailureLimiter } from './auth';
import { type ChannelSettings, channelRoutes } from './channel-callbacks';
import { sendProblem, zodErrors } from './problems';
import { accountRoutes } from './routes/accounts';
import { auditRoutes } from './routes/audit';
import { codecRoutes } from './routes/codec';
import { customerRoutes } from './routes/customers';
import { eventRoutes } from './routes/events';
import { journeyRoutes } from './routes/journeys';
import { keyRoutes } from './routes/keys';
import { outboxRoutes } from './routes/outbox';
import { previewRoutes } from './routes/previews';
import { reconcileRoutes } from './routes/reconcile';
import { simulateRoutes } from './routes/simulate';
import { insightsRoutes } from './routes/insights';
import { taskRoutes } from './routes/tasks';
import { consolePlugin } from '../console/console';

export interface ApiDeps {
  db: Db;
  intake: EventIntake;
  temporal: Client;
  /** Where the API starts workflows of its own (a refresh after a fit); without it, it starts none. */
  taskQueue?: string;
  /** The payload codec: the codec endpoint, and erasure's destroying of keys. */
  protection: DataProtection;
  /** Web origins whose pages may call the codec endpoint (the Temporal UI's). */
  codecOrigins?: string[];
  outboxDir: string;
  /** Accept http:// webhook URLs in journeys published through the API. */
  allowHttpWebhooks?: boolean;
  /** Unsubscribe links and Twilio webhooks; without it those routes are absent. */
  channels?: ChannelSettings;
  /** Previews and test sends of send steps; without it their routes answer 503. */
  previews?: Previews;
  /** The templates folder journeys published as YAML alone (the console) read; without it a publish needs the plan. */
  templatesDir?: string;
  /** Plays a published journey out for one customer (client/tools/simulate); without it the route answers 503. */
  simulate?: Simulator;
  /** Requests a minute: per API key (or per address without one), and per address on public routes. */
  rateLimit?: { perKey: number; public: number };
  /** After a journey is published, paused or resumed (its schedule follows). */
  onPublished?: (journeyId: string) => Promise<void>;
  /** The largest event accepted, in bytes of JSON (default 256 KiB); a larger one gets 413. */
  eventMaxBytes?: number;
  /** After an API key is created or revoked. */
  onKeysChanged?: () => void;
  logger: Logger;
}

const PUBLIC = /^\/(u|webhooks)\//;

export function buildApi(deps: ApiDeps) {
  const app = createApp(deps.logger);
  // Refusals per address, shared by the keys' check and Twilio's signature check.
  const failures = new FailureLimiter();
  const auth = createAuth(deps.db, failures);
  const onKeysChanged = deps.onKeysChanged;
  const routeDeps: ApiDeps = {
    ...deps,
    onKeysChanged: () => {
      auth.forget();
      onKeysChanged?.();
    },
  };

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (err instanceof RequestValidationError) {
      return sendProblem(
        reply,
        422,
        `Invalid ${err.part === 'querystring' ? 'query' : err.part}`,
        err.message,
        zodErrors(err.zodError, err.part === 'body' ? '' : err.part === 'querystring' ? 'query' : err.part),
      );
    }
    // What the request needs is away a moment (the customer database, or Temporal for a call that
    // needs it at once): nothing of it was kept; try again shortly.
    const away = isDatabaseUnavailable(err)
      ? 'the customer database cannot be reached just now; try again shortly'
      : isTemporalUnavailable(err)
        ? 'Temporal cannot be reached just now; try again shortly (events are still accepted, and routed once it is back)'
        : undefined;
    if (away) {
      void reply.header('retry-after', '5');
      return sendProblem(reply, 503, 'Service unavailable', away);
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    if (status === 429)
      void reply.header('retry-after', (reply.getHeader('retry-after') as string | undefined) ?? '60');
    return sendProblem(
      reply,
      status,
      status === 500
        ? 'Internal error'
        : status === 429
          ? 'Too many requests'
          : status === 413
            ? 'Payload too large'
            : 'Bad request',
      status === 500 ? 'the request failed; see the server log' : err.message,
    );
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'Not found', `no route ${req.method} ${req.url}`));

  app.addHook('onRequest', auth.check);

  const limits = deps.rateLimit ?? { perKey: 6000, public: 600 };
  void app.register(rateLimit, {
    global: true,
    // Before the body is read (a flood costs no parsing), after authentication (an onRequest hook
    // added before), so a key's requests count against the key, wherever they come from.
    hook: 'onRequest',
    timeWindow: 60_000,
    max: (req) => (PUBLIC.test(req.url) ? limits.public : limits.perKey),
    keyGenerator: (req) => (req.apiKey ? `key:${req.apiKey.id}` : `ip:${req.ip}`),
    // Twilio's signed webhooks (opt-outs among them) are never limited: their signature is checked
    // on each, and an address whose signatures fail is refused (FailureLimiter).
    allowList: (req) =>
      req.url === '/health' ||
      (req.url.startsWith('/webhooks/twilio/') && req.headers['x-twilio-signature'] !== undefined),
    errorResponseBuilder: (_req, context) => ({
      statusCode: 429,
      message: `at most ${context.max} requests a minute; try again in ${context.after}`,
    }),
  });

  void app.register(swagger, {
    openapi: {
      info: {
        title: 'Rapport API',
        description:
          'Events in, customers and journeys out. Authenticate with `Authorization: Bearer <API key>`; errors are `application/problem+json`.',
        version: '1',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  void app.register(swaggerUi, { routePrefix: '/docs' });

  // Twilio's webhooks and one-click unsubscribe post forms; they alone parse them (the plugin's scope).
  if (deps.channels) {
    // A tracked click or open is sent on as an event (email.clicked, email.opened), accepted at once.
    const emit = (event: ParsedEvent) => deps.intake.accept(event, undefined, 0);
    void app.register(channelRoutes(deps.db, deps.channels, deps.logger, failures, emit));
  }

  void app.register((scope, _opts, done) => {
    scope.get('/health', { schema: { hide: true } }, () => ({ status: 'ok' }));
    scope.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
    done();
  });

  // Registered after the documentation and rate-limit plugins, which see routes as they are added.
  // eslint-disable-next-line @typescript-eslint/require-await
  void app.register(async (scope) => {
    const routes = scope as unknown as App;
    eventRoutes(routes, routeDeps);
    customerRoutes(routes, routeDeps);
    accountRoutes(routes, routeDeps);
    journeyRoutes(routes, routeDeps);
    taskRoutes(routes, routeDeps);
    keyRoutes(routes, routeDeps);
    outboxRoutes(routes, routeDeps);
    previewRoutes(routes, routeDeps);
    simulateRoutes(routes, routeDeps);
    codecRoutes(routes, routeDeps);
    reconcileRoutes(routes, routeDeps);
    insightsRoutes(routes, routeDeps);
    auditRoutes(routes, routeDeps);
  });
  // The console: pages that call the routes above for a signed-in session.
  void app.register(
    consolePlugin({
      db: deps.db,
      failures,
      publicUrl: deps.channels?.publicUrl,
      inject: (options) => app.inject(options),
    }),
  );
  return app;
}

export type Api = ReturnType<typeof buildApi>;
