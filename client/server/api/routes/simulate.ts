/**
 * A published journey played out for one customer on Temporal's time-skipping server: a made-up
 * customer, or a copy of a live one. Nothing is sent and nothing is written here: the simulation has
 * its own database and captures its messages (client/server/journeys/simulation.ts).
 */
import { z } from 'zod';
import { allows } from '../../../../activities/store/api-keys';
import { versionSource } from '../../../../activities/store/versions';
import { SimulationFailure } from '../../journeys/simulation';
import type { App } from '../app';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

const simulateBody = z
  .object({
    /** A made-up customer; with `from`, fields that replace the live customer's copy. */
    customer: z.record(z.string(), z.unknown()).optional(),
    /** A live customer (id, email or phone) whose copy is simulated; needs customers:read as well. */
    from: z.string().min(1).optional(),
    /** Events `{ at: "+3d", type, data }` and task completions `{ at, complete: <step>, outcome, note? }`. */
    events: z.array(z.record(z.string(), z.unknown())).max(100).optional(),
    /** The data of the event that enrolls the customer. */
    data: z.record(z.string(), z.unknown()).optional(),
    /** The version to simulate; default the newest. */
    version: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((b) => b.customer !== undefined || b.from !== undefined, {
    message: 'expected a made-up "customer", or "from" naming a live one',
    path: ['customer'],
  });

export function simulateRoutes(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/journeys/:id/simulate',
    {
      schema: {
        summary: 'Play a published journey out for one customer, in simulated time, and return its timeline',
        description:
          'The real workflow on Temporal\'s time-skipping server, with an in-memory database and the channels captured: nothing reaches the customer and nothing is written. The customer is made up (`customer`: email or phone, profile fields, `orders: [{ total, placedAt: "-30d" }]`), or a copy of a live one (`from`: id, email or phone; needs customers:read too). Events arrive at offsets from the enrollment.',
        tags: ['journeys'],
        params: z.object({ id: z.string().min(1) }),
        body: simulateBody,
      },
    },
    async (req, reply) => {
      const simulate = deps.simulate;
      if (!simulate) return sendProblem(reply, 503, 'Unavailable', 'this server has no simulator');
      const { id } = req.params;
      const body = req.body;
      // A live customer's record is personal data: copying it needs customers:read as well.
      if (body.from && req.apiKey && !allows(req.apiKey.scopes, 'customers:read')) {
        return sendProblem(
          reply,
          403,
          'Forbidden',
          'simulating a live customer needs the scope customers:read as well',
        );
      }
      const row = await versionSource(deps.db, id, body.version);
      if (!row) {
        return sendProblem(
          reply,
          404,
          'Not found',
          body.version ? `journey ${id} has no version ${body.version}` : `no journey ${id}`,
        );
      }
      let live: unknown;
      if (body.from) {
        // Read as GET /v1/customers/<ref> reads it, with the caller's own credentials.
        const res = await app.inject({
          method: 'GET',
          url: `/v1/customers/${encodeURIComponent(body.from)}`,
          headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
        });
        if (res.statusCode === 404) return sendProblem(reply, 404, 'Not found', `no customer ${body.from}`);
        if (res.statusCode !== 200) {
          const problem = res.json<{ title?: string; detail?: string }>();
          return sendProblem(
            reply,
            res.statusCode,
            problem.title ?? 'Error',
            problem.detail ?? `reading ${body.from} failed`,
          );
        }
        live = res.json();
      }
      try {
        return await simulate({
          journey: id,
          version: row.version,
          source: row.source,
          customer: body.customer ?? {},
          ...(live ? { live } : {}),
          events: body.events ?? [],
          ...(body.data ? { triggerData: body.data } : {}),
        });
      } catch (err) {
        if (err instanceof SimulationFailure) {
          return sendProblem(reply, err.status, err.status === 503 ? 'Unavailable' : 'Cannot simulate', err.message);
        }
        throw err;
      }
    },
  );
}
