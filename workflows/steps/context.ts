import type { CustomerFacts, Facts } from '../../definitions/facts';
import type { JourneyDefinition } from '../../definitions/schema/journey';
import type { Step } from '../../definitions/schema/registry';
import { armsOf } from '../../definitions/steps';
import type { acts as Acts } from '../activities';
import type { JourneyInput, JourneyMemory, JourneyState, PathSeg, StepOutcome, StepOutcomeKind } from '../types';

/** What a step handler gets: the enrollment, its memory, and the means to act and to wait. */
export interface StepContext {
  input: JourneyInput;
  def: JourneyDefinition;
  memory: JourneyMemory;
  state: JourneyState;
  acts: typeof Acts;
  /** How many times this step has run before in this enrollment (for loop-safe idempotency keys). */
  visits(stepId: string): number;
  /** Records what the step did, with the same in words (`detail`) for people. */
  record(stepId: string, outcome: StepOutcome, detail?: string): void;
  /** The facts conditions and templates read; the customer, when given, as they are now. */
  facts(customer?: CustomerFacts): Facts;
  /** The customer's record, read afresh. */
  loadCustomer(): Promise<CustomerFacts>;
  /**
   * Waits until `ready()` holds, the timeout passes, or the enrollment is interrupted (an exit
   * event, a goal met). Returns whether `ready()` held.
   */
  waitUntil(what: string, ready: () => boolean, timeoutMs?: number): Promise<boolean>;
  interrupted(): boolean;
}

/** `next`: go on; `exit`: end the enrollment; `enter`: run the nested list at this path (relative to the step). */
export type StepResult = { next: true } | { exit: string } | { enter: PathSeg[] };
export const NEXT: StepResult = { next: true };

/**
 * Takes the way out of `step` named `name` in its kind's spec (`case 1`, `otherwise`, `path a`,
 * `on_event`, `on_timeout`): into its steps, or on to the next step when it has none.
 */
export function takeArm(step: Step, name: string): StepResult {
  const arm = armsOf(step).find((a) => a.name === name);
  if (!arm) throw new Error(`step ${step.id} has no way out named "${name}"`);
  return arm.path && arm.steps.length > 0 ? { enter: arm.path } : NEXT;
}

/** The record's one-word outcome, as timelines and explain show it. */
export function outcomeKind(o: StepOutcome): StepOutcomeKind {
  switch (o.kind) {
    case 'send':
    case 'wait':
    case 'wait_for':
    case 'webhook':
      return o.status;
    case 'branch':
      return 'branch';
    case 'split':
      return 'path';
    case 'update':
      return 'updated';
    case 'task':
      return o.status === 'timeout' ? 'timeout' : 'task';
    case 'digest':
      return 'digested';
    case 'exit':
      return 'exited';
  }
}
