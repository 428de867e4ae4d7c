/**
 * `POST /v1/reconcile`: one pass of reconciliation now (client/server/events/reconcile.ts), as the
 * worker runs every minute. Admin keys only.
 */
import { z } from 'zod';
import { reconcile } from '../../events/reconcile';
import type { App } from '../app';
import type { ApiDeps } from '../server';

export function reconcileRoutes(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/reconcile',
    {
      schema: {
        summary:
          'Compare active enrollments and open send claims with Temporal now: failed, terminated or missing workflows are recorded as failed enrollments, orphaned claims are closed; the report says what changed',
        tags: ['operations'],
        body: z
          .object({
            minAgeSeconds: z
              .number()
              .int()
              .min(0)
              .max(86_400)
              .optional()
              .describe('leave enrollments and claims younger than this alone (default 60)'),
            limit: z.number().int().min(1).max(10_000).optional().describe('enrollments compared (default 500)'),
          })
          .strict()
          .optional(),
      },
    },
    async (req) =>
      reconcile(
        { db: deps.db, temporal: deps.temporal, logger: deps.logger },
        {
          ...(req.body?.minAgeSeconds !== undefined ? { minAgeMs: req.body.minAgeSeconds * 1000 } : {}),
          ...(req.body?.limit !== undefined ? { limit: req.body.limit } : {}),
        },
      ),
  );
}
