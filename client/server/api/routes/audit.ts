/**
 * The audit trail (`GET /v1/audit`, admin keys): who published, paused or resumed a journey,
 * completed a task, erased or merged a customer, made or revoked a key, imported rows or fitted the
 * value models; newest first, a page at a time.
 */
import { z } from 'zod';
import { AUDIT_CURSOR, listAudit } from '../../../../activities/store/audit';
import type { App } from '../app';
import type { ApiDeps } from '../server';

/** The most entries one page may ask for. */
const AUDIT_PAGE_MAX = 500;

const time = (what: string) =>
  z.iso
    .datetime({ offset: true, error: 'expected an ISO 8601 date-time such as 2026-11-22T10:00:00Z' })
    .optional()
    .describe(what);

export function auditRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/audit',
    {
      schema: {
        summary: 'Who did what, and when: the audit trail, newest first, a page at a time',
        tags: ['audit'],
        querystring: z
          .object({
            action: z
              .string()
              .regex(/^[a-z]+(\.[a-z]+)?$/, 'expected an action such as journey.pause, or a family such as journey')
              .optional()
              .describe('an action (journey.pause), or every action of a family (journey)'),
            target: z.string().min(1).max(300).optional().describe('what was acted on, such as journey:welcome'),
            actor: z.string().min(1).max(200).optional().describe("an API key's name or id, local or cli"),
            since: time('entries from this time on'),
            until: time('entries before this time'),
            cursor: z
              .string()
              .regex(AUDIT_CURSOR, 'expected the `next` of the page before')
              .optional()
              .describe('the `next` of the page before'),
            limit: z.coerce
              .number()
              .int()
              .min(1)
              .max(AUDIT_PAGE_MAX, `expected at most ${AUDIT_PAGE_MAX}`)
              .default(100)
              .describe(`entries per page (at most ${AUDIT_PAGE_MAX})`),
          })
          .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
            message: 'since must be before until',
            path: ['until'],
          }),
      },
    },
    async (req) => {
      const q = req.query;
      return listAudit(deps.db, {
        action: q.action,
        target: q.target,
        actor: q.actor,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        cursor: q.cursor,
        limit: q.limit,
      });
    },
  );
}
