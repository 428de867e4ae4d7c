/** The journey definition format, v1: the contract with the ops teams who write journeys. */
import { parseShare, SHARE_PATTERN } from '../holdout';
import { z } from 'zod';
import { category, celExpression, duration, localTime } from './common';
import { eventTypeName } from './event-type';
import { stepList, type Step } from './registry';
import { topicId } from '../topics';

export type { Step };

const journeyId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'expected a journey id: lowercase letters, digits and "-", 2 to 63 characters');

const reentry = z
  .string()
  .regex(/^(never|always|after \S+)$/, 'expected never, always, or "after <duration>" such as "after 90d"')
  .refine((v) => !v.startsWith('after ') || duration.safeParse(v.slice(6)).success, {
    message: 'expected "after <duration>", such as "after 90d"',
  });

const trigger = z
  .object({
    event: eventTypeName.optional(),
    when: celExpression.optional(),
    schedule: z
      .string()
      .regex(/^(\S+\s+){4}\S+$/, 'expected a cron expression with five fields, such as "0 9 * * mon"')
      .optional(),
    segment: celExpression.optional(),
    on: z
      .literal('enter', { error: 'expected "enter": the customer is enrolled the moment they enter the segment' })
      .optional()
      .describe(
        'With a segment and no schedule: enroll each customer the moment their facts come to match the segment (after an event, an order, an update or a model refresh)',
      ),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.event === undefined && t.schedule === undefined && t.segment === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a trigger needs an event, a schedule with a segment, or a segment with "on: enter"',
      });
    }
    if (t.event !== undefined && (t.schedule !== undefined || t.segment !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a trigger has either an event (and when), a schedule and a segment, or a segment and "on: enter"',
      });
    }
    if (t.segment !== undefined && t.event === undefined && t.schedule === undefined && t.on === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['on'],
        message:
          'a segment trigger needs "on: enter" (enroll as customers enter it) or a schedule (enroll everyone in it periodically)',
      });
    }
    if (t.on !== undefined && (t.schedule !== undefined || t.segment === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['on'],
        message: '"on: enter" belongs to a segment trigger without a schedule',
      });
    }
    if (t.schedule !== undefined && t.segment === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['segment'],
        message: 'a scheduled trigger needs a segment (CEL over customer)',
      });
    }
    if (t.when !== undefined && t.event === undefined) {
      ctx.addIssue({ code: 'custom', path: ['when'], message: '"when" belongs to an event trigger' });
    }
  });

/** An email address, bare or with a display name: `news@acme.example` or `Acme <news@acme.example>`. */
const mailbox = z
  .string()
  .regex(
    /^(?:[^<>@\n]+<[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+)$/,
    'expected an email address such as news@acme.example or "Acme <news@acme.example>"',
  );

export const journeyDefinition = z
  .object({
    $schema: z.string().optional(),
    journey: journeyId,
    name: z.string().min(1, 'expected a name'),
    description: z.string().optional(),
    category: category,
    topic: topicId
      .optional()
      .describe(
        "The subscription topic of this marketing journey's messages (definitions/texts/topics.yaml), such as offers: a customer who left it on a channel gets none of them there. A send step may name another.",
      ),
    trigger,
    entry: z
      .object({
        reentry: reentry.optional(),
        concurrent: z
          .boolean()
          .optional()
          .describe(
            'Each triggering event starts its own enrollment, even while earlier ones run (a second complaint while the first is open). Needs reentry: always.',
          ),
        key: celExpression
          .optional()
          .describe(
            'One enrollment per customer and key instead of one per customer, such as "event.data.cartId": one abandoned-cart journey per cart. CEL over the event, giving text or a whole number; the goal, exit and wait_for events reach only the enrollment of the key they give. Reentry applies per key.',
          ),
      })
      .strict()
      .superRefine((e, ctx) => {
        if (e.key !== undefined && e.concurrent) {
          ctx.addIssue({
            code: 'custom',
            path: ['concurrent'],
            message: 'a keyed journey runs one enrollment per key already; "concurrent" does not go with "key"',
          });
        }
        if (e.concurrent && (e.reentry ?? 'never') !== 'always') {
          ctx.addIssue({
            code: 'custom',
            path: ['concurrent'],
            message: 'concurrent enrollments need "reentry: always" (each triggering event enrolls the customer again)',
          });
        }
      })
      .optional(),
    exit: z
      .object({
        events: z.array(eventTypeName).min(1, 'expected at least one event type').optional(),
        segment: z
          .literal('leave', { error: 'expected "leave": the enrollment ends when the customer leaves the segment' })
          .optional()
          .describe("End the enrollment when the customer no longer matches the trigger's segment"),
      })
      .strict()
      .superRefine((e, ctx) => {
        if (e.events === undefined && e.segment === undefined) {
          ctx.addIssue({ code: 'custom', message: 'an exit needs events, or "segment: leave"' });
        }
      })
      .optional(),
    goal: z
      .object({
        event: eventTypeName,
        when: celExpression.optional(),
        within: duration.optional(),
        exit: z.boolean().optional(),
      })
      .strict()
      .optional(),
    holdout: z
      .string()
      .regex(SHARE_PATTERN, 'expected a share such as "10%" (more than 0, under 100)')
      .refine((v) => !SHARE_PATTERN.test(v) || parseShare(v) > 0, 'expected a share more than 0%')
      .optional()
      .describe(
        'A share of those who enter, such as "10%", who get none of this journey\'s sends while their goal is still counted: the report compares their goal rate with the rest (lift). Needs a goal.',
      ),
    sending: z
      .object({
        quietHours: z.object({ start: localTime, end: localTime }).strict().optional(),
        frequencyCap: z.boolean().optional(),
        whenCapped: z.enum(['defer', 'skip']).optional(),
        from: mailbox.optional().describe('The From of this journey\'s email, such as "Acme <news@acme.example>"'),
        replyTo: mailbox.optional().describe("Where replies to this journey's email go"),
        trackClicks: z
          .boolean()
          .optional()
          .describe(
            "Make the links of this journey's email tracked redirects (default: true for marketing journeys, false for others)",
          ),
        trackOpens: z
          .boolean()
          .optional()
          .describe("Add an open pixel to this journey's email (default false; mail privacy proxies inflate opens)"),
      })
      .strict()
      .optional(),
    steps: stepList.refine((l) => l.length > 0, 'expected at least one step'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.exit?.segment && !(d.trigger.segment !== undefined && d.trigger.schedule === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['exit', 'segment'],
        message: '"segment: leave" needs a trigger that enters on a segment (trigger: { segment, on: enter })',
      });
    }
    if (d.entry?.key !== undefined && d.trigger.event === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['entry', 'key'],
        message: 'a key is read from the triggering event: it needs a trigger with an event',
      });
    }
    if (d.holdout && !d.goal) {
      ctx.addIssue({
        code: 'custom',
        path: ['holdout'],
        message: 'a holdout needs a goal: the goal rate of those held out is what it measures',
      });
    }
  })
  .describe('A Rapport journey definition (format v1).');

export type JourneyDefinition = z.infer<typeof journeyDefinition>;

/** Template content resolved at publish time, so a published version never changes under a customer. */
export interface EmailTemplate {
  subject: string;
  text: string;
  html?: string;
}
export interface SmsTemplate {
  text: string;
}

/** What publishing produces and what a journey workflow receives: the definition and its templates. */
export interface JourneyPlan {
  definition: JourneyDefinition;
  /** `email:<name>` and `sms:<name>` for each template the definition names. */
  templates: Record<string, EmailTemplate | SmsTemplate>;
  contentHash: string;
}
