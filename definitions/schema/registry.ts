/**
 * Every step kind's schema, by its `type`. Each kind is one unit in ../steps/<kind>.ts: its schema
 * and type, and what else it declares (its arms, label, events), typed as a record over `StepKind`,
 * so a kind added here does not compile until it has its spec there.
 */
import { z } from 'zod';
import { branchStep, type BranchStep } from '../steps/branch';
import { digestStep, type DigestStep } from '../steps/digest';
import { exitStep, type ExitStep } from '../steps/exit';
import { sendStep, type SendStep } from '../steps/send';
import { splitStep, type SplitStep } from '../steps/split';
import { taskStep, type TaskStep } from '../steps/task';
import { updateStep, type UpdateStep } from '../steps/update';
import { waitStep, type WaitStep } from '../steps/wait';
import { waitForStep, type WaitForStep } from '../steps/wait-for';
import { webhookStep, type WebhookStep } from '../steps/webhook';

/** One step of a journey, any kind. */
export type Step =
  | SendStep
  | WaitStep
  | WaitForStep
  | DigestStep
  | BranchStep
  | SplitStep
  | UpdateStep
  | TaskStep
  | WebhookStep
  | ExitStep;

/** A list of steps, nested ones included. */
export const stepList: z.ZodType<Step[]> = z.lazy(() => z.array(step));

const stepSchemas = {
  send: sendStep,
  wait: waitStep,
  wait_for: waitForStep(stepList),
  digest: digestStep,
  branch: branchStep(stepList),
  split: splitStep(stepList),
  update: updateStep,
  task: taskStep(stepList),
  webhook: webhookStep,
  exit: exitStep,
} as const;

export type StepKind = keyof typeof stepSchemas;
export const stepKinds = Object.keys(stepSchemas) as StepKind[];
export type StepOf<K extends StepKind> = Extract<Step, { type: K }>;

const step: z.ZodType<Step> = z.discriminatedUnion('type', [
  stepSchemas.send,
  stepSchemas.wait,
  stepSchemas.wait_for,
  stepSchemas.digest,
  stepSchemas.branch,
  stepSchemas.split,
  stepSchemas.update,
  stepSchemas.task,
  stepSchemas.webhook,
  stepSchemas.exit,
]);

// Compile-time guards: the union and the registry name the same kinds, and each schema's output is
// its kind's type.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _sameKinds: Exact<Step['type'], StepKind> = true;
const _schemasMatch: { [K in StepKind]: z.output<(typeof stepSchemas)[K]> extends StepOf<K> ? true : never } = {
  send: true,
  wait: true,
  wait_for: true,
  digest: true,
  branch: true,
  split: true,
  update: true,
  task: true,
  webhook: true,
  exit: true,
};
void _sameKinds;
void _schemasMatch;
