/** Table types of the customer database, as Kysely sees them. Migrations in ./migrations.ts create them. */
import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
/** jsonb: written as JSON text, read back parsed. */
type Json<T> = ColumnType<T, string, string>;

export type LifecycleStage = 'prospect' | 'new_customer' | 'repeat_customer' | 'lapsed';
export type Channel = 'email' | 'sms';

interface CustomersTable {
  id: string;
  email: string | null;
  phone: string | null;
  first_name: string | null;
  last_name: string | null;
  timezone: string;
  locale: string;
  lifecycle_stage: LifecycleStage;
  tags: Json<string[]>;
  attributes: Json<Record<string, unknown>>;
  preferred_channel: Channel | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  /** Set when this record was merged into another: lookups by id follow it. */
  merged_into: string | null;
  /** The lead score as of score_at (activities/store/scores.ts); the score now decays from it. */
  score: ColumnType<number, number | undefined, number>;
  score_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The half-life, in seconds, the score decays by from score_at. */
  score_half_life_s: ColumnType<number | null, number | null | undefined, number | null>;
  /** The attribute rules whose points the customer has had (each counts once). */
  scored_rules: ColumnType<string[], string | undefined, string>;
  /** The account (client organisation) the customer is a contact of, if any. */
  account_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** email, phone, or `ext:<system>` for the id another system knows the customer by. */
interface IdentitiesTable {
  kind: string;
  value: string;
  customer_id: string;
  created_at: CreatedAt;
}

export interface EventsTable {
  id: string;
  customer_id: string;
  type: string;
  occurred_at: Timestamp;
  received_at: CreatedAt;
  data: Json<Record<string, unknown>>;
  request_hash: string;
  routed_at: Timestamp | null;
  result: Json<unknown> | null;
  /** The order events were accepted in. */
  seq: ColumnType<number, never, never>;
  route_attempts: ColumnType<number, number | undefined, number>;
  route_error: string | null;
  next_route_at: Timestamp | null;
  /** Set when routing was given up; `POST /v1/events/<id>/retry` clears it. */
  parked_at: Timestamp | null;
  /** The order events were routed in, across processes (a sequence); null until routed. */
  routed_seq: ColumnType<number | null, never, number | null>;
}

export type TimelineKind = 'event' | 'message' | 'enrollment' | 'task' | 'change' | 'merge';

interface TimelineTable {
  id: Generated<number>;
  customer_id: string;
  at: Timestamp;
  kind: TimelineKind;
  summary: string;
  data: Json<Record<string, unknown>>;
  /** What the entry stands for (an event id, a send key): a retried write with the same ref is a no-op. */
  ref: string | null;
}

export type JourneyStatus = 'active' | 'paused';

interface JourneysTable {
  id: string;
  status: JourneyStatus;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

interface JourneyVersionsTable {
  journey_id: string;
  version: number;
  content_hash: string;
  definition: Json<unknown>;
  source: string;
  source_path: string | null;
  published_at: CreatedAt;
}

/** A customer whose records merged, until their enrollments are settled (client/server/events/enrollments.ts). */
interface MergeFollowupsTable {
  customer_id: string;
  merged_at: CreatedAt;
}

export type EnrollmentStatus = 'active' | 'completed' | 'exited' | 'cancelled' | 'failed';

interface EnrollmentsTable {
  id: string;
  customer_id: string;
  journey_id: string;
  version: number;
  workflow_id: string;
  event_id: string | null;
  status: EnrollmentStatus;
  current_step: string | null;
  goal_met: boolean;
  outcome: string | null;
  started_at: CreatedAt;
  ended_at: Timestamp | null;
  /** When the reconciler last compared it with its workflow (client/server/events/reconcile.ts). */
  reconciled_at: ColumnType<Date | null, Date | string | undefined, Date | string | null>;
  /** A keyed journey's key for this enrollment (entry.key); null for journeys without one. */
  key: ColumnType<string | null, string | null | undefined, string | null>;
}

export type LedgerState = 'claimed' | 'sent' | 'failed_retryable' | 'failed_permanent' | 'skipped' | 'unknown';

interface SendLedgerTable {
  send_key: string;
  customer_id: string;
  workflow_id: string;
  step_id: string;
  channel: Channel;
  state: LedgerState;
  phase: 'before_request' | 'request_in_flight' | null;
  attempt: number;
  claimed_at: Timestamp | null;
  provider_ref: string | null;
  last_error: string | null;
  updated_at: Timestamp;
  category: string | null;
  /** Workflow time of the send, for frequency caps. */
  sent_at: Timestamp | null;
}

type Purpose = 'marketing' | 'transactional' | 'service';

interface ConsentsTable {
  customer_id: string;
  channel: Channel;
  purpose: Purpose;
  granted: boolean;
  method: string;
  source: string;
  recorded_at: Timestamp;
  evidence: Json<Record<string, unknown>>;
}

/** A customer's choice of a subscription topic on a channel; no row means subscribed. */
interface TopicConsentsTable {
  customer_id: string;
  channel: Channel;
  topic: string;
  subscribed: boolean;
  method: string;
  source: string;
  recorded_at: Timestamp;
  evidence: Json<Record<string, unknown>>;
}

export type SuppressionReason = 'hard_bounce' | 'complaint' | 'stop' | 'unsubscribe' | 'erasure';

interface SuppressionsTable {
  id: Generated<number>;
  customer_id: string;
  channel: Channel;
  reason: SuppressionReason;
  detail: string | null;
  created_at: Timestamp;
  lifted_at: Timestamp | null;
}

export type TaskStatus = 'open' | 'completed' | 'timed_out' | 'cancelled';

interface TasksTable {
  id: string;
  task_key: string;
  customer_id: string;
  enrollment_id: string | null;
  workflow_id: string | null;
  journey_id: string | null;
  step_id: string | null;
  team: string | null;
  assignee: string | null;
  title: string;
  description: string | null;
  due_at: Timestamp | null;
  status: TaskStatus;
  outcome: string | null;
  note: string | null;
  created_at: Timestamp;
  completed_at: Timestamp | null;
}

/** numeric columns come back as text; written as numbers or text. */
type Numeric = ColumnType<string, number | string, number | string>;

interface OrdersTable {
  id: string;
  customer_id: string;
  placed_at: Timestamp;
  total: Numeric;
  currency: string;
  event_id: string | null;
  /** The account the order was placed for: the customer's then, kept should they move on. */
  account_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A client organisation, by the id the other system gives it; its contacts are customers. */
interface AccountsTable {
  id: string;
  name: string | null;
  attributes: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

interface OrderLinesTable {
  order_id: string;
  line: number;
  product: string;
  category: string | null;
  quantity: number;
  price: Numeric;
  /** What a unit cost, when the order said: the line's profit is known only with it. */
  cost: ColumnType<string | null, number | string | null | undefined, number | string | null>;
}

/** How many customers bought an item (a category or a product), kept as orders come. */
interface CopurchaseBuyersTable {
  kind: 'category' | 'product';
  item: string;
  buyers: number;
}

/** How many customers bought both `a` and `b` (each pair kept both ways round). */
interface CopurchaseTable {
  kind: 'category' | 'product';
  a: string;
  b: string;
  customers: number;
}

interface ApiKeysTable {
  id: string;
  name: string;
  /** JSON array of scopes. */
  scopes: unknown;
  /** SHA-256 of the secret, hex: the secret itself is never stored. */
  secret_hash: string;
  last4: string;
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

interface DataKeysTable {
  /** Named in each payload it encrypts. */
  id: string;
  /** A customer's id, or `system` for what belongs to no customer. */
  subject: string;
  /** The key, encrypted with the master key (AES-256-GCM): base64 of IV, ciphertext and tag. */
  wrapped: string;
  created_at: CreatedAt;
}

interface InboundMessagesTable {
  /** Twilio's MessageSid of an inbound SMS acted on. */
  sid: string;
  received_at: CreatedAt;
}

interface AddressSuppressionsTable {
  channel: Channel;
  /** SHA-256 (hex) of the address as sent to (lowercase email, E.164 phone): no address in clear. */
  address_hash: string;
  reason: SuppressionReason;
  created_at: Timestamp;
  lifted_at: Timestamp | null;
}

/**
 * What an enrollment has reported for its journey's report, once each (activities/store/journey-stats.ts):
 * a retried record adds nothing.
 */
interface JourneyMarksTable {
  enrollment_id: string;
  mark: string;
}

/** The journey report's counts, kept as enrollments report: by journey, version, day (UTC) and figure. */
interface JourneyStatsTable {
  journey_id: string;
  version: number;
  /** The day the counted thing happened, in the journey's own time (simulated time in simulations). */
  day: ColumnType<string, string, string>;
  metric: string;
  key: string;
  count: ColumnType<string, number, number>;
}

/** A fit of the customer value models (activities/insights/). */
interface InsightModelsTable {
  id: Generated<number>;
  fitted_at: CreatedAt;
  period_end: Timestamp;
  customers: number;
  params: Json<unknown>;
}

/** Whether a customer is in a segment-entry journey's segment (activities/segment-watch.ts). */
interface SegmentMembersTable {
  journey_id: string;
  customer_id: string;
  inside: boolean;
  /** How many times the customer entered or left: the n-th change's event id ends in n. */
  changes: number;
  changed_at: Timestamp;
}

/** Who did what to what (activities/store/audit.ts); the database refuses to change or remove a row. */
interface AuditLogTable {
  id: Generated<number>;
  at: CreatedAt;
  /** The API key's name, `local` (no key, from this machine) or `cli` (the command line, on the database). */
  actor: string;
  actor_key_id: string | null;
  action: string;
  /** What was acted on, by id: `journey:<id>`, `customer:<id>`, `key:<id>`, `import:customers`... */
  target: string;
  detail: Json<Record<string, unknown>>;
}

/** A token bucket of a sending limit (activities/send-rate.ts). */
interface ConsoleSessionsTable {
  /** SHA-256 of the session's cookie, hex: the cookie itself is never stored. */
  id: string;
  /** The API key that signed in: the session can do what the key can, and ends when it is revoked. */
  key_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

interface SendRateBucketsTable {
  /** `<channel>:<sender>`, such as `sms:+15005550006`. */
  key: string;
  /** Milliseconds since the epoch by which every token taken so far is paid back: the bucket is full then. */
  paid_at: number;
}

export interface Database {
  customers: CustomersTable;
  events: EventsTable;
  timeline: TimelineTable;
  journeys: JourneysTable;
  journey_versions: JourneyVersionsTable;
  enrollments: EnrollmentsTable;
  send_ledger: SendLedgerTable;
  tasks: TasksTable;
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  copurchase: CopurchaseTable;
  copurchase_buyers: CopurchaseBuyersTable;
  consents: ConsentsTable;
  topic_consents: TopicConsentsTable;
  identities: IdentitiesTable;
  suppressions: SuppressionsTable;
  api_keys: ApiKeysTable;
  merge_followups: MergeFollowupsTable;
  data_keys: DataKeysTable;
  inbound_messages: InboundMessagesTable;
  address_suppressions: AddressSuppressionsTable;
  journey_marks: JourneyMarksTable;
  journey_stats: JourneyStatsTable;
  insight_models: InsightModelsTable;
  segment_members: SegmentMembersTable;
  accounts: AccountsTable;
  audit_log: AuditLogTable;
  send_rate_buckets: SendRateBucketsTable;
  console_sessions: ConsoleSessionsTable;
}

export type CustomerRow = Selectable<CustomersTable>;
export type TaskRow = Selectable<TasksTable>;
export type EnrollmentRow = Selectable<EnrollmentsTable>;
