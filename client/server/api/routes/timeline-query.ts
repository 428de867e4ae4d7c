/** The query of a timeline page (a customer's, an account's): `before` a page's `next` or a time, and `limit`. */
import { z } from 'zod';
import { TIMELINE_CURSOR } from '../../../../activities/store/timeline';

const TIMELINE_PAGE_MAX = 500;

export const timelineQuery = z.object({
  before: z
    .string()
    .refine((v) => TIMELINE_CURSOR.test(v) || z.iso.datetime({ offset: true }).safeParse(v).success, {
      message: 'expected the `next` of a page, or an ISO 8601 date-time such as 2026-11-22T10:00:00Z',
    })
    .optional()
    .describe('the `next` of the page before, or a time: only entries before it'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(TIMELINE_PAGE_MAX, `expected at most ${TIMELINE_PAGE_MAX}`)
    .default(50)
    .describe(`entries per page (at most ${TIMELINE_PAGE_MAX})`),
});
