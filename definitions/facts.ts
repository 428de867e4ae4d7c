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
   * A category the customer has not bought, the one most bought alongside theirs by other customers
   * (the most bought one when none is; activities/store/copurchases.ts); null without categories.
   */
  recommendedCategory: string | null;
  /**
   * Profit over the order lines whose cost is known: quantity × (price − cost). A line without a
   * cost adds no profit. Null when no line has a cost. Absent where facts are made up: read as null.
   */
  profit?: number | null;
  /**
   * profit ÷ the revenue (quantity × price) of those same lines, so lines without a cost neither add
   * profit nor dilute the margin; null likewise, or when that revenue is 0. Absent: read as null.
   */
  margin?: number | null;
  /**
   * The customer's categories with their share (0 to 1) of the customer's spend on categorised lines
   * (of their items when that spend is 0), highest first, ties by name, at most five. Absent: [].
   */
  affinity?: CategoryShare[];
  /** The first category of `affinity`; null without one. Absent: read as null. */
  topCategory?: string | null;
  /**
   * Up to three products the customer has not bought, most bought alongside theirs first
   * (activities/store/copurchases.ts). Absent: [].
   */
  recommendations?: string[];
}

export interface CategoryShare {
  category: string;
  share: number;
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

/**
 * RFM: how recently, how often and how much the customer ordered, each scored 1 (lowest fifth of
 * the customers with orders) to 5 (highest fifth) against the quintiles of the newest model fit, and
 * the segment the recency and frequency scores name (activities/insights/rfm.ts). The scores are 0,
 * and the segment `none`, without orders or before a model is fitted.
 */
export interface RfmFacts {
  recency: number;
  frequency: number;
  monetary: number;
  /** recency + frequency + monetary: 3 to 15. */
  score: number;
  /** champions, loyal, potential_loyalist, new, promising, need_attention, about_to_sleep, at_risk, cant_lose, hibernating, or none. */
  segment: string;
}

export const UNKNOWN_RFM: RfmFacts = { recency: 0, frequency: 0, monetary: 0, score: 0, segment: 'none' };

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
  /**
   * The channel the customer engages on, learned from email clicks and SMS replies of the last 180
   * days (activities/store/engagement.ts); null when nothing is learned. Absent where facts are made
   * up: read as null ("" in CEL). A stated preferredChannel wins over it.
   */
  learnedChannel?: string | null;
  metrics: CustomerMetrics;
  /** Absent where facts are made up (simulations, tests): read as UNKNOWN_PREDICTION. */
  predicted?: PredictedFacts;
  /** Absent where facts are made up (simulations, tests): read as UNKNOWN_RFM. */
  rfm?: RfmFacts;
  /** The lead score now, decayed since it last changed (definitions/scoring.ts); absent: read as 0. */
  score?: number;
  /**
   * The account (client organisation) the customer is a contact of; null or absent: none. CEL reads
   * a customer without one as an account whose id and name are "" (`customer.account.id != ""`).
   */
  account?: AccountFacts | null;
}

export interface AccountFacts {
  id: string;
  name: string | null;
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
  // Null until costs are known: compare after a check, `customer.metrics.profit != null && ...`.
  profit: 'dyn',
  margin: 'dyn',
  // Each a map with `category` (string) and `share` (double).
  affinity: 'list<dyn>',
  topCategory: 'string',
  recommendations: 'list<string>',
} as const satisfies Record<keyof CustomerMetrics, string>;

export const PREDICTED_FIELDS = {
  pAlive: 'double',
  orders90d: 'double',
  spend: 'double',
  clv: 'double',
  churnRisk: 'string',
} as const satisfies Record<keyof PredictedFacts, string>;

export const RFM_FIELDS = {
  recency: 'int',
  frequency: 'int',
  monetary: 'int',
  score: 'int',
  segment: 'string',
} as const satisfies Record<keyof RfmFacts, string>;

export const ACCOUNT_FIELDS = {
  id: 'string',
  name: 'string',
} as const satisfies Record<keyof AccountFacts, string>;

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
  learnedChannel: 'string',
  metrics: METRIC_FIELDS,
  predicted: PREDICTED_FIELDS,
  rfm: RFM_FIELDS,
  score: 'double',
  account: ACCOUNT_FIELDS,
} as const satisfies Record<
  keyof CustomerFacts,
  string | typeof METRIC_FIELDS | typeof PREDICTED_FIELDS | typeof RFM_FIELDS | typeof ACCOUNT_FIELDS
>;

export interface EventFacts {
  id?: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** What a digest step gathered, read as events.<id>: its events, oldest first, and how many. */
export interface DigestFacts {
  items: EventFacts[];
  count: number;
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
  /** A wait_for's event, or a digest's events, by step id. */
  events?: Record<string, EventFacts | DigestFacts>;
  tasks?: Record<string, TaskFacts>;
  journey?: JourneyFacts;
  now: string;
}
