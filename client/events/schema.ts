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
    attributes: z.record(z.string(), z.unknown()).optional(),
    /** Consent given (true) or withdrawn (false), per channel and purpose; the event is the evidence. */
    consent: z.object({ email: purposes.optional(), sms: purposes.optional() }).strict().optional(),
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
    data: z.record(z.string(), z.unknown()).default({}),
    profile: profileFields.optional(),
  })
  .strict();

/** The most events one request may carry. */
export const EVENT_BATCH_MAX = 1000;

export type IncomingEvent = z.input<typeof incomingEvent>;
export type ParsedEvent = z.output<typeof incomingEvent>;

export interface EnrolledIn {
  journey: string;
  version: number;
  workflowId: string;
  enrollmentId: string;
}

export interface EventReceipt {
  eventId: string;
  customerId: string;
  /** Journeys the event enrolled the customer in. */
  enrolled: EnrolledIn[];
  /** Running journeys of the customer that received the event. */
  signalled: { journey: string; workflowId: string }[];
  /** Journeys whose trigger matched but that did not enroll the customer, and why. */
  notEnrolled: { journey: string; reason: string }[];
}
