/** The shape of an event other systems send: validated at the door, with a message per bad field. */
import { z } from 'zod';

export const eventType = z
  .string()
  .regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/, 'expected an event type such as order.placed (lowercase, dot-separated)')
  .max(100);

export const customerRef = z
  .object({
    id: z.string().min(1).max(100).optional(),
    email: z.email('expected an email address').max(320).optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'expected a phone number in E.164 form, such as +14155550123')
      .optional(),
    externalId: z
      .object({
        system: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a system name such as crm or shop'),
        id: z.string().min(1).max(200),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((c) => c.id ?? c.email ?? c.phone ?? c.externalId, {
    message: 'expected at least one of id, email, phone or externalId',
  });

/** How deep an event's `data` (or a profile's `attributes`) may nest: objects and arrays, counted. */
const MAX_DATA_DEPTH = 32;

/** The default limit of one event's size (RAPPORT_EVENT_MAX_BYTES): well within what Temporal carries. */
export const DEFAULT_EVENT_MAX_BYTES = 256 * 1024;

/** The nesting depth of a JSON value: 0 for a scalar, 1 for a flat object or array. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, d + 1);
    if (deepest > MAX_DATA_DEPTH) return deepest;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

const notTooDeep = (what: string) =>
  [
    (v: unknown) => depthOf(v) <= MAX_DATA_DEPTH,
    `expected ${what} nested at most ${MAX_DATA_DEPTH} levels deep`,
  ] as const;

/**
 * The account (client organisation) a customer is a contact of, by the id the other system gives it;
 * its name and attributes are kept when given. Made the first time it is named.
 */
export const accountRef = z
  .object({
    id: z.string().min(1, 'expected the account id').max(200, 'expected at most 200 characters'),
    name: z.string().min(1).max(200, 'expected at most 200 characters').optional(),
    attributes: z
      .record(z.string(), z.unknown())
      .refine(...notTooDeep('attributes'))
      .optional(),
  })
  .strict();

const purposes = z
  .object({ marketing: z.boolean().optional(), service: z.boolean().optional(), transactional: z.boolean().optional() })
  .strict();

export const profileFields = z
  .object({
    email: z.email('expected an email address').max(320).optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'expected a phone number in E.164 form, such as +14155550123')
      .optional(),
    firstName: z.string().max(200).optional(),
    lastName: z.string().max(200).optional(),
    timezone: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'expected an IANA time zone such as Europe/Paris')
      .optional(),
    locale: z.string().min(2).max(35).optional(),
    preferredChannel: z.enum(['email', 'sms']).optional(),
    attributes: z
      .record(z.string(), z.unknown())
      .refine(...notTooDeep('attributes'))
      .optional(),
    /** Consent given (true) or withdrawn (false), per channel and purpose; the event is the evidence. */
    consent: z.object({ email: purposes.optional(), sms: purposes.optional() }).strict().optional(),
    /** The customer's account; null: a contact of none any more. */
    account: accountRef.nullable().optional(),
  })
  .strict();

export const incomingEvent = z
  .object({
    id: z.string().min(1).max(200).optional(),
    type: eventType,
    customer: customerRef,
    occurredAt: z.iso
      .datetime({ offset: true, error: 'expected an ISO 8601 date-time such as 2026-11-22T10:00:00Z' })
      .optional(),
    data: z
      .record(z.string(), z.unknown())
      .refine(...notTooDeep('data'))
      .default({}),
    profile: profileFields.optional(),
    /** The account the customer is a contact of (the same as `profile.account`). */
    account: accountRef.nullable().optional(),
  })
  .strict();

/** The most events one request may carry. */
export const EVENT_BATCH_MAX = 1000;

export type IncomingEvent = z.input<typeof incomingEvent>;
export type ParsedEvent = z.output<typeof incomingEvent>;

interface EnrolledIn {
  journey: string;
  version: number;
  workflowId: string;
  enrollmentId: string;
}

export interface EventReceipt {
  eventId: string;
  customerId: string;
  /**
   * `routed`: journeys enrolled and signalled (below); `accepted`: kept, and routed as soon as it can
   * be (Temporal away, an earlier event of the customer first); `parked`: routing failed and was given
   * up, with `error` (retry it with POST /v1/events/<id>/retry).
   */
  status: 'accepted' | 'routed' | 'parked';
  /** Why an accepted or parked event is not routed (yet). */
  error?: string;
  /** Journeys the event enrolled the customer in. */
  enrolled: EnrolledIn[];
  /** Running journeys of the customer that received the event. */
  signalled: { journey: string; workflowId: string }[];
  /** Journeys whose trigger matched but that did not enroll the customer, and why. */
  notEnrolled: { journey: string; reason: string }[];
}
