/** What a journey workflow receives, keeps and answers. Shared with the client as types. */
import type { Category } from '../definitions/schema/common';
import type { JourneyEvent } from '../definitions/events';
import type { JourneyPlan } from '../definitions/schema/journey';

export type { JourneyEvent };

export interface JourneyInput {
  plan: JourneyPlan;
  version: number;
  customerId: string;
  enrollmentId: string;
  /** The event that enrolled the customer. */
  event: JourneyEvent;
}

export type StepOutcomeKind = 'sent' | 'skipped' | 'failed' | 'waited' | 'exited';

export interface StepRecord {
  stepId: string;
  type: string;
  /** Workflow time, ISO 8601. */
  at: string;
  outcome: StepOutcomeKind;
  detail?: string;
}

export type EnrollmentOutcome = 'completed' | 'exited';

export interface JourneyState {
  journey: string;
  version: number;
  customerId: string;
  enrollmentId: string;
  enrolledAt: string;
  status: 'active' | EnrollmentOutcome;
  currentStep: string | null;
  history: StepRecord[];
}

export interface JourneyResult {
  outcome: EnrollmentOutcome;
  reason?: string;
  history: StepRecord[];
}

export type { Category };
