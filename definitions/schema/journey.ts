/** The journey definition format, v1: the contract with the ops teams who write journeys. */
import { z } from 'zod';
import { category, liquidText } from './common';
import { stepSchemas, type StepKind } from './registry';
import type { ExitStep } from './steps/exit';
import type { SendStep } from './steps/send';
import type { WaitStep } from './steps/wait';

/** One step of a journey, any kind. */
export type Step = SendStep | WaitStep | ExitStep;
export type StepOf<K extends StepKind> = Extract<Step, { type: K }>;

// Every kind in the registry is in the union, and the other way round.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _registryMatchesUnion: Exact<Step['type'], StepKind> = true;
void _registryMatchesUnion;

export const step: z.ZodType<Step> = z.lazy(() =>
  z.discriminatedUnion('type', [stepSchemas.send, stepSchemas.wait, stepSchemas.exit]),
);

export const journeyId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'expected a journey id: lowercase letters, digits and "-", 2 to 63 characters');

export const journeyDefinition = z
  .object({
    $schema: z.string().optional(),
    journey: journeyId,
    name: z.string().min(1, 'expected a name'),
    description: z.string().optional(),
    category: category,
    trigger: z
      .object({
        event: z.string().min(1, 'expected an event type such as order.placed'),
      })
      .strict(),
    steps: z.array(step).min(1, 'expected at least one step'),
  })
  .strict()
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

export { liquidText };
