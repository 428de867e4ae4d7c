/** What a journey workflow receives, keeps and answers. Shared with the client as types. */
import type { ReportedStep } from '../activities/store/journey-stats';
import type { CustomerFacts, DigestFacts, EventFacts, TaskFacts } from '../definitions/facts';
import type { JourneyEvent } from '../definitions/events';
import type { Holdout } from '../definitions/holdout';
import type { JourneyPlan } from '../definitions/schema/journey';

export type PathSeg = string | number;

/** Where the interpreter is: a stack of step lists (paths into the definition) and the index in each. */
interface Frame {
  path: PathSeg[];
  index: number;
}

export type StepOutcomeKind =
  | 'sent'
  | 'skipped'
  | 'deferred'
  | 'failed'
  | 'waited'
  | 'digested'
  | 'event'
  | 'timeout'
  | 'branch'
  | 'path'
  | 'updated'
  | 'task'
  | 'called'
  | 'exited';

/**
 * What a step did, by step kind: what scenarios, coverage, `simulate --json` and reports read. The
 * record's `detail` is the same in words, for people, and may be reworded; this is not.
 */
export type StepOutcome =
  | {
      kind: 'send';
      status: 'sent' | 'skipped' | 'deferred' | 'failed';
      channel: 'email' | 'sms' | null;
      /** Why a message was skipped, deferred or failed (the contact policy's or the provider's words). */
      reason: string | null;
      /** For `deferred`: when the send is tried again (ISO 8601). */
      until?: string;
    }
  | { kind: 'wait'; status: 'waited' | 'skipped'; until: string | null }
  | { kind: 'wait_for'; status: 'event' | 'timeout'; event: string }
  /** `full`: `max` events came before the window closed; `closed`: the window closed first. */
  | { kind: 'digest'; status: 'full' | 'closed'; event: string; count: number }
  /** The case taken (1 for the first), or null for `otherwise` (also when no case held and there is none). */
  | { kind: 'branch'; case: number | null }
  | { kind: 'split'; path: string }
  | { kind: 'update' }
  | { kind: 'task'; status: 'created' | 'completed' | 'timeout'; taskId: string; outcome: string | null }
  /** `httpStatus`: the endpoint's answer, when it gave one. */
  | { kind: 'webhook'; status: 'called' | 'failed'; httpStatus: number | null; reason: string | null }
  | { kind: 'exit'; reason: string };

export interface StepRecord {
  stepId: string;
  type: string;
  /** Workflow time, ISO 8601. */
  at: string;
  outcome: StepOutcomeKind;
  detail?: string;
  /** Absent from records kept by journeys started before outcomes were recorded. */
  result?: StepOutcome;
}

export type EnrollmentOutcome = 'completed' | 'exited' | 'goal';

/** Carried across continue-as-new, so a long journey keeps its place and its memory. */
export interface JourneyMemory {
  stack: Frame[];
  visits: Record<string, number>;
  /** What wait_for and digest steps took, by step id. */
  events: Record<string, EventFacts | DigestFacts>;
  tasks: Record<string, TaskFacts>;
  splits: Record<string, string>;
  history: StepRecord[];
  /** Events received and not yet consumed by a wait_for or a digest, oldest first, with their sequence number. */
  inbox: { seq: number; event: EventFacts; customer: CustomerFacts }[];
  nextSeq: number;
  goalMetAt: string | null;
  enrolledAt: string;
  runs: number;
  /** Ids of events already taken (routing may deliver one twice). */
  seenEvents: string[];
  /** Whether a digest has taken the enrolling event (it counts in one digest only). Absent: not yet. */
  triggerDigested?: boolean;
  /** Task completions received, by task id. */
  completions: Record<string, { outcome: string; note: string | null; completedAt: string }>;
  /** An end decided but not yet acted on. */
  interrupt?: { outcome: EnrollmentOutcome; reason: string } | null;
  /** Step records not yet counted in the journey's report: sent with the next record written. */
  unreported?: ReportedStep[];
}

export interface JourneyInput {
  plan: JourneyPlan;
  version: number;
  customerId: string;
  enrollmentId: string;
  /** The event that enrolled the customer. */
  event: JourneyEvent;
  /** Present after continue-as-new. */
  memory?: JourneyMemory;
  /** Continue as new after this many steps in one run (tests); otherwise when Temporal suggests it. */
  maxStepsPerRun?: number;
  /** Held out (definitions/holdout.ts): the journey sends this customer nothing; the goal still counts. */
  holdout?: Holdout;
}

export interface JourneyState {
  journey: string;
  version: number;
  customerId: string;
  enrollmentId: string;
  enrolledAt: string;
  /** `failed`: a step failed for good, and the enrollment ended with it. */
  status: 'active' | EnrollmentOutcome | 'failed';
  currentStep: string | null;
  /** What the customer waits for at the current step, in words. */
  waitingFor: string | null;
  goalMet: boolean;
  splits: Record<string, string>;
  history: StepRecord[];
  runs: number;
}

export interface JourneyResult {
  outcome: EnrollmentOutcome;
  reason?: string;
  goalMet: boolean;
  history: StepRecord[];
}

/** A customer's event delivered to a running journey, with the customer as they are now. */
export interface EventSignal {
  event: EventFacts;
  customer: CustomerFacts;
}

export interface TaskSignal {
  stepId: string;
  taskId: string;
  outcome: string;
  note: string | null;
  completedAt: string;
}

export interface SegmentRunInput {
  journeyId: string;
  /** Set when the run continues as new: where it was. */
  resume?: { after: string | null; state: SegmentRunState; runKey: string };
  /** Customers read per page. */
  pageSize?: number;
}

export interface SegmentRunState {
  scanned: number;
  matched: number;
  enrolled: number;
  done: boolean;
  stopped?: string;
}

export interface InsightsRefreshInput {
  /** Refit the models first (the nightly schedule); a fit just made through the API does not. */
  refit: boolean;
  /** Customers read per page. */
  pageSize?: number;
  /** Set when the refresh continues as new: where it was. */
  resume?: { after: string | null; state: InsightsRefreshState };
}

export interface InsightsRefreshState {
  modelId?: number;
  /** Why nothing was refitted (too few customers with orders): nothing else is done then. */
  skipped?: string;
  customers: number;
  entered: number;
  left: number;
  lapsed: number;
  done: boolean;
}
