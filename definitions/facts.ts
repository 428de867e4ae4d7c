/**
 * What journeys can read about a customer, an event and a task: the variables of CEL conditions
 * and Liquid templates. Plain JSON, so it crosses from activities into workflows unchanged.
 */
export interface CustomerMetrics {
  orderCount: number;
  lifetimeValue: number;
  firstOrderAt: string | null;
  lastOrderAt: string | null;
  /** Categories of everything the customer has bought. */
  categories: string[];
  /**
   * A category the customer has not bought, chosen from what customers who bought the same
   * categories bought most (the most popular one when no customer is similar); null without orders.
   */
  recommendedCategory: string | null;
}

/**
 * What the customer value models predict of the customer (activities/insights/): from the newest
 * model fitted on the customer base (`rapport insights fit`) and the customer's orders as they are.
 * `churnRisk` is `unknown`, and the figures 0, before a model is fitted or for a customer without orders.
 */
export interface PredictedFacts {
  /** The chance the customer is still active (BG/NBD). */
  pAlive: number;
  /** Orders expected in the next 90 days. */
  orders90d: number;
  /** Expected spend per order (Gamma-Gamma). */
  spend: number;
  /** The next 12 months' value, discounted at 10 % a year. */
  clv: number;
  /** `low` (P(active) 0.7 or more), `medium`, `high` (under 0.3), or `unknown`. */
  churnRisk: string;
}

export const UNKNOWN_PREDICTION: PredictedFacts = { pAlive: 0, orders90d: 0, spend: 0, clv: 0, churnRisk: 'unknown' };

export interface CustomerFacts {
  id: string;
  email: string | null;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  timezone: string;
  locale: string;
  lifecycleStage: string;
  tags: string[];
  attributes: Record<string, unknown>;
  /** Per channel and purpose, for example consent.email.marketing == true. */
  consent: Record<string, Record<string, boolean>>;
  preferredChannel: string | null;
  metrics: CustomerMetrics;
  /** Absent where facts are made up (simulations, tests): read as UNKNOWN_PREDICTION. */
  predicted?: PredictedFacts;
}

/**
 * The customer fields a journey can read, with their CEL types: the one list CEL's type checks
 * (cel.ts) and the compiler's check of template variables (compile.ts) are built from. `satisfies`
 * holds it to CustomerFacts: a field added there does not compile until it is added here.
 */
export const METRIC_FIELDS = {
  orderCount: 'int',
  lifetimeValue: 'double',
  firstOrderAt: 'dyn',
  lastOrderAt: 'dyn',
  categories: 'list<string>',
  recommendedCategory: 'string',
} as const satisfies Record<keyof CustomerMetrics, string>;

export const PREDICTED_FIELDS = {
  pAlive: 'double',
  orders90d: 'double',
  spend: 'double',
  clv: 'double',
  churnRisk: 'string',
} as const satisfies Record<keyof PredictedFacts, string>;

export const CUSTOMER_FIELDS = {
  id: 'string',
  email: 'string',
  phone: 'string',
  firstName: 'string',
  lastName: 'string',
  timezone: 'string',
  locale: 'string',
  lifecycleStage: 'string',
  tags: 'list<string>',
  attributes: 'map<string, dyn>',
  consent: 'map<string, dyn>',
  preferredChannel: 'string',
  metrics: METRIC_FIELDS,
  predicted: PREDICTED_FIELDS,
} as const satisfies Record<keyof CustomerFacts, string | typeof METRIC_FIELDS | typeof PREDICTED_FIELDS>;

export interface EventFacts {
  id?: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface TaskFacts {
  id: string;
  status: 'open' | 'completed' | 'timed_out';
  outcome: string | null;
  note: string | null;
  completedAt: string | null;
}

interface JourneyFacts {
  id: string;
  version: number;
  enrolledAt: string;
}

/** Everything a condition or a template may read. */
export interface Facts {
  customer?: CustomerFacts;
  event?: EventFacts;
  events?: Record<string, EventFacts>;
  tasks?: Record<string, TaskFacts>;
  journey?: JourneyFacts;
  now: string;
}
