import type { JourneyInput, JourneyState, StepOutcomeKind } from '../types';
import type { Activities } from '../../activities';

/** What a step handler gets: the enrollment, its state, and the activities it may call. */
export interface StepContext {
  input: JourneyInput;
  state: JourneyState;
  acts: Activities;
  /** How many times this step has run before in this enrollment (for loop-safe idempotency keys). */
  visits(stepId: string): number;
  record(stepId: string, type: string, outcome: StepOutcomeKind, detail?: string): void;
}

/** `next`: go on with the following step; `exit`: end the enrollment. */
export type StepResult = { next: true } | { exit: string };
export const NEXT: StepResult = { next: true };
