/** Events in: one or a batch, orders, and imports of a customer base. */
import { z } from 'zod';
import {
  IMPORT_BATCH_MAX,
  importCustomers,
  importOrders,
  type ImportReport,
  importSuppressions,
} from '../../../../activities/store/imports';
import { allows } from '../../../../activities/store/api-keys';
import { type AuditActor, recordAudit } from '../../../../activities/store/audit';
import { orderData } from '../../../../activities/store/orders';
import { IntakeError, MAX_WAIT_MS, ROUTED_WAIT_MS } from '../../events/intake';
import { EVENT_PAGE_MAX, listEvents, routingBacklog } from '../../events/list';
import {
  accountRef,
  customerRef,
  DEFAULT_EVENT_MAX_BYTES,
  EVENT_BATCH_MAX,
  incomingEvent,
  profileFields,
} from '../../events/schema';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type App, noValidation } from '../app';
import { actorOf } from '../auth';
import { sendProblem, zodErrors } from '../problems';
import type { ApiDeps } from '../server';

const eventBatch = z
  .object({
    events: z
      .array(incomingEvent)
      .min(1, 'expected at least one event')
      .max(EVENT_BATCH_MAX, `expected at most ${EVENT_BATCH_MAX} events in one batch`),
  })
  .strict()
  .superRefine((b, ctx) => {
    b.events.forEach((e, i) => {
      if (!e.id)
        ctx.addIssue({ code: 'custom', path: ['events', i, 'id'], message: 'an event in a batch needs an id' });
    });
  });

export const orderBody = z
  .object({
    /** The event id; default `order:<orderId>`, so posting the same order twice records it once. */
    id: z.string().min(1).max(200).optional(),
    customer: customerRef,
    occurredAt: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date-time' }).optional(),
    profile: profileFields.optional(),
    /** The account the order is placed for: its customer's, who becomes a contact of it. */
    account: accountRef.nullable().optional(),
  })
  .extend(orderData.shape)
  .strict();

const importBatch = z
  .object({
    rows: z
      .array(z.object({ line: z.number().int().positive(), fields: z.record(z.string(), z.unknown()) }).strict())
      .max(IMPORT_BATCH_MAX, `expected at most ${IMPORT_BATCH_MAX} rows in one request`),
    /** The file's name: the source imported consent and suppressions name, with the row's line. */
    file: z.string().min(1).max(200).optional(),
  })
  .strict();

const headers = z.object({
  'idempotency-key': z.string().min(1).max(200).optional(),
  prefer: z
    .string()
    .optional()
    .describe('wait=<seconds>: answer once the event is routed, waiting at most that long (60 s)'),
});
const waitQuery = z.object({
  wait: z.enum(['routed']).optional().describe('routed: answer once the event is routed (waiting at most 10 s)'),
});

/** An event over the size limit: 413, before anything of it is written. */
function tooLarge(event: unknown, limit: number) {
  const bytes = Buffer.byteLength(JSON.stringify(event));
  if (bytes <= limit) return undefined;
  const detail = `the event is ${bytes} bytes of JSON; the limit is ${limit} (RAPPORT_EVENT_MAX_BYTES): keep large content elsewhere and send a reference`;
  return { status: 413, title: 'Payload too large', detail };
}

/**
 * How long the caller wants the answer to wait for routing: `?wait=routed` (up to 10 s), or
 * `Prefer: wait=<seconds>` (RFC 7240, up to 60 s); by default not at all.
 */
function waitOf(query: unknown, prefer: string | string[] | undefined): number {
  if ((query as { wait?: unknown } | undefined)?.wait === 'routed') return ROUTED_WAIT_MS;
  const asked = /(?:^|[,;\s])wait=(\d+)/.exec(Array.isArray(prefer) ? prefer.join(',') : (prefer ?? ''));
  return asked ? Math.min(Number(asked[1]) * 1000, MAX_WAIT_MS) : 0;
}

function problemOf(err: unknown) {
  if (err instanceof IntakeError) {
    return {
      status: err.status,
      title: err.status === 409 ? 'Conflict' : 'Invalid event',
      detail: err.message,
      ...(err.path ? { errors: [{ path: err.path, message: err.message }] } : {}),
    };
  }
  throw err;
}

/**
 * The fields of an event's profile that change how Rapport reaches a customer, or whether it may
 * (their address, their number, their consent): a key that may only send events cannot change them;
 * they need `customers:write`. Without keys (open on this machine), nothing is refused.
 */
const CONTACT_FIELDS = ['email', 'phone', 'consent'] as const;

function refusedContactChange(
  req: FastifyRequest,
  reply: FastifyReply,
  profiles: { at: string; profile: Record<string, unknown> | undefined }[],
): FastifyReply | undefined {
  const key = req.apiKey;
  if (!key || allows(key.scopes, 'customers:write')) return undefined;
  const fields = profiles.flatMap(({ at, profile }) =>
    CONTACT_FIELDS.filter((f) => profile?.[f] !== undefined).map((f) => `${at}profile.${f}`),
  );
  if (fields.length === 0) return undefined;
  return sendProblem(
    reply,
    403,
    'Forbidden',
    `changing a customer's email, phone or consent needs the customers:write scope (${fields.join(', ')}); nothing was accepted`,
  );
}

export function eventRoutes(app: App, deps: ApiDeps): void {
  const maxBytes = deps.eventMaxBytes ?? DEFAULT_EVENT_MAX_BYTES;
  // One event, or a batch: {"events": [...]}. A batch is validated whole first (a bad event anywhere
  // accepts none, and every problem is listed with its place); then each event is accepted in order,
  // the accepted ones are routed several at a time (one customer's in order), and the answer says
  // what became of each (202 when all were accepted, 207 otherwise).
  app.post(
    '/v1/events',
    {
      schema: {
        summary: 'Send one event, or a batch of up to 1,000',
        description:
          'The answer (202) comes once the event is durably accepted, with Location: /v1/events/<id>; routing follows at once, in the background. Ask to wait for it with ?wait=routed or Prefer: wait=<seconds>: the answer then lists the enrollments and signals. The same id again has no second effect and gets the first answer back; the same id with another body is refused (409).',
        tags: ['events'],
        headers,
        querystring: waitQuery,
        body: z.union([incomingEvent, eventBatch]),
      },
      validatorCompiler: noValidation,
    },
    async (req, reply) => {
      const body = req.body as unknown;
      if (body && typeof body === 'object' && !Array.isArray(body) && 'events' in body) {
        const parsed = eventBatch.safeParse(body);
        if (!parsed.success) {
          return sendProblem(
            reply,
            422,
            'Invalid batch',
            'the batch does not match the event schema; no event of it was accepted',
            zodErrors(parsed.error),
          );
        }
        const refused = refusedContactChange(
          req,
          reply,
          parsed.data.events.map((e, i) => ({ at: `events[${i}].`, profile: e.profile })),
        );
        if (refused) return refused;
        // An event over the size limit is refused on its own; the others go in.
        const oversized = parsed.data.events.map((e) => tooLarge(e, maxBytes));
        const fitting = parsed.data.events.filter((_, i) => !oversized[i]);
        const outcomes = await deps.intake.acceptMany(fitting, waitOf(req.query, req.headers.prefer));
        let next = 0;
        const results = parsed.data.events.map((_, index) => {
          const big = oversized[index];
          if (big) return { index, status: big.status, problem: big };
          const r = outcomes[next++]!;
          if (r.ok) return { index, status: 202, replayed: r.replayed, receipt: r.receipt };
          const problem = problemOf(r.error);
          return { index, status: problem.status, problem };
        });
        const accepted = results.filter((r) => r.status === 202).length;
        return reply.code(accepted === results.length ? 202 : 207).send({ accepted, results });
      }
      const big = tooLarge(body, maxBytes);
      if (big) return sendProblem(reply, big.status, big.title, big.detail);
      const parsed = incomingEvent.safeParse(body);
      if (!parsed.success) {
        return sendProblem(
          reply,
          422,
          'Invalid event',
          'the event does not match the event schema',
          zodErrors(parsed.error),
        );
      }
      const refused = refusedContactChange(req, reply, [{ at: '', profile: parsed.data.profile }]);
      if (refused) return refused;
      const header = req.headers['idempotency-key'];
      try {
        const { receipt, replayed } = await deps.intake.accept(
          parsed.data,
          typeof header === 'string' ? header : undefined,
          waitOf(req.query, req.headers.prefer),
        );
        if (replayed) void reply.header('Idempotent-Replayed', 'true');
        void reply.header('Location', `/v1/events/${encodeURIComponent(receipt.eventId)}`);
        return reply.code(202).send(receipt);
      } catch (err) {
        const p = problemOf(err);
        return sendProblem(reply, p.status, p.title, p.detail, p.errors);
      }
    },
  );

  app.get(
    '/v1/events',
    {
      schema: {
        summary: 'Recent events, newest first, with what became of them (accepted, routed or parked); paged by cursor',
        description:
          'Each event’s receipt in short: its type, customer, status, when it was received and routed, the error of one not routed, and the journeys it enrolled and signalled. Not the event’s data. `next` is the cursor (`before`) of the next, older page.',
        tags: ['events'],
        querystring: z
          .object({
            status: z.enum(['accepted', 'routed', 'parked']).optional(),
            limit: z.coerce.number().int().min(1).max(EVENT_PAGE_MAX).optional(),
            before: z
              .string()
              .regex(/^\d{1,18}$/, 'expected the cursor of a page (its `next`)')
              .optional(),
          })
          .strict(),
      },
    },
    async (req) => listEvents(deps.db, req.query),
  );

  app.get(
    '/v1/routing',
    {
      schema: {
        summary: 'The router’s backlog: events accepted and not routed yet, and how long the oldest has waited',
        description:
          'Across every Rapport process on this database: `waiting` (due to be routed now), `retrying` (routing failed, the next try is scheduled), `parked` (given up until retried), and when the oldest waiting or retrying event was received. A burst shows here as a backlog that drains, oldest first.',
        tags: ['events'],
      },
    },
    async () => routingBacklog(deps.db),
  );

  app.get(
    '/v1/events/:id',
    {
      schema: {
        summary:
          'An event’s receipt: accepted, routed or parked; the journeys it enrolled and signalled, and why others did not',
        tags: ['events'],
        params: z.object({ id: z.string().min(1).max(200) }),
      },
    },
    async (req, reply) => {
      const receipt = await deps.intake.receipt(req.params.id);
      if (!receipt) return sendProblem(reply, 404, 'Not found', `no event ${req.params.id}`);
      return receipt;
    },
  );

  app.post(
    '/v1/events/:id/retry',
    {
      schema: {
        summary: 'Route a parked event again now (after fixing what stopped it); answers its receipt',
        tags: ['events'],
        params: z.object({ id: z.string().min(1).max(200) }),
      },
    },
    async (req, reply) => {
      const receipt = await deps.intake.retry(req.params.id);
      if (!receipt) return sendProblem(reply, 404, 'Not found', `no event ${req.params.id}`);
      return receipt;
    },
  );

  app.post(
    '/v1/orders',
    {
      schema: {
        summary: 'Record an order: it updates the customer’s metrics and emits order.placed',
        tags: ['events'],
        querystring: waitQuery,
        body: orderBody,
      },
    },
    async (req, reply) => {
      const big = tooLarge(req.body, maxBytes);
      if (big) return sendProblem(reply, big.status, big.title, big.detail);
      const { id, customer, occurredAt, profile, account, ...data } = req.body;
      const refused = refusedContactChange(req, reply, [{ at: '', profile }]);
      if (refused) return refused;
      try {
        const { receipt, replayed } = await deps.intake.accept(
          {
            id: id ?? `order:${data.orderId}`,
            type: 'order.placed',
            customer,
            ...(occurredAt ? { occurredAt } : {}),
            data,
            ...(profile ? { profile } : {}),
            ...(account !== undefined ? { account } : {}),
          },
          undefined,
          waitOf(req.query, req.headers.prefer),
        );
        if (replayed) void reply.header('Idempotent-Replayed', 'true');
        void reply.header('Location', `/v1/events/${encodeURIComponent(receipt.eventId)}`);
        return reply.code(202).send(receipt);
      } catch (err) {
        const p = problemOf(err);
        return sendProblem(reply, p.status, p.title, p.detail, p.errors);
      }
    },
  );

  /** Notes an import batch in the audit trail by its counts only: its rows hold personal data. */
  const audited = async (actor: AuditActor, kind: string, report: ImportReport) => {
    const { imported, unchanged, errors } = report;
    await recordAudit(deps.db, {
      actor,
      action: 'import',
      target: `import:${kind}`,
      detail: { imported, unchanged, errors: errors.length },
    });
    return report;
  };

  // A customer base, in batches of rows from a file (`rapport import`): history, which enrolls nobody.
  for (const kind of ['customers', 'orders', 'suppressions'] as const) {
    app.post(
      `/v1/imports/${kind}`,
      {
        schema: {
          summary: `Import ${kind} (rows of a file, up to 1,000 a request); bad rows are reported by line`,
          tags: ['imports'],
          body: importBatch,
        },
      },
      async (req) => {
        const { rows, file } = req.body;
        // Suppressions touch only addresses and the customers who have them: nothing to merge.
        if (kind === 'suppressions') return audited(actorOf(req), kind, await importSuppressions(deps.db, rows, file));
        const result =
          kind === 'customers' ? await importCustomers(deps.db, rows, file) : await importOrders(deps.db, rows);
        // Rows that named two known records merged them: their enrollments are settled now.
        await deps.intake.settleMerges();
        return audited(actorOf(req), kind, result);
      },
    );
  }
}
