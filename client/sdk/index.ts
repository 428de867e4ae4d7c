/**
 * The typed client other systems and the command line use to talk to a running Rapport over HTTP.
 * Errors come back as RapportApiError with the problem document the API sent.
 */
import type { EventReceipt, IncomingEvent } from '../server/events/schema';
import type { ImportReport, ImportRow } from '../../activities/store/imports';
import type { ApiKeyView, Scope } from '../../activities/store/api-keys';
import type { AuditFilter, AuditItem } from '../../activities/store/audit';
import type { z } from 'zod';
import type { orderBody } from '../server/api/routes/events';
import type { previewBody, sendTestBody } from '../server/api/routes/previews';
import type { MessagePreview, TestSend } from '../../activities/previews';
import type { JourneySummary } from '../../activities/store/journeys';
import type { PublishImpact, VersionInfo } from '../../activities/store/versions';
import type { TaskView } from '../../activities/store/tasks';
import type { CustomerView } from '../../activities/store/customers';
import type { EnrollmentView } from '../../activities/store/enrollments';
import type { TimelineItem } from '../../activities/store/timeline';
import type { JourneyPlan } from '../../definitions/schema/journey';
import type { CustomerMetrics } from '../../definitions/facts';
import type { EnrollmentExplanation } from '../../activities/store/explain';
import type { ReconcileReport } from '../server/events/reconcile';
import type { RoutingBacklog } from '../server/events/list';
import type { JourneyReport, ReportQuery } from '../server/journeys/report';
import type { FittedModels } from '../../activities/insights/models';
import type { AccountTimelineItem, AccountView } from '../../activities/store/accounts';
import type { AccountFacts } from '../../definitions/facts';
import type { CustomerListQuery, CustomerPage, ListedCustomer } from '../../activities/store/customer-list';

/** GET /v1/customers: every field optional (sort revenue, order desc, limit 50 by default). */
export type CustomerListOptions = Partial<CustomerListQuery>;
export type { CustomerPage, ListedCustomer };

export interface BatchResult {
  accepted: number;
  results: (
    | { index: number; status: 202; replayed: boolean; receipt: EventReceipt }
    | { index: number; status: number; problem: Omit<ProblemDocument, 'type'> }
  )[];
}

export type {
  AccountTimelineItem,
  AccountView,
  AuditItem,
  FittedModels,
  ImportReport,
  ImportRow,
  JourneyReport,
  ReconcileReport,
  ReportQuery,
  RoutingBacklog,
  Scope,
};

/** An order as POST /v1/orders takes it. */
export type OrderInput = z.input<typeof orderBody>;

/** What a preview takes: a customer (a reference, or `{ facts }` made up), and optionally a version and the event's data. */
export type PreviewInput = z.input<typeof previewBody>;
/** What a test send takes: a preview's input and the address (email, or phone in E.164) to send to. */
export type SendTestInput = z.input<typeof sendTestBody>;
export type { MessagePreview, TestSend };

/** An event's receipt with what the engine knows of it: GET /v1/events/<id>. */
export type EventDetail = EventReceipt & {
  type: string;
  receivedAt: string;
  routedAt: string | null;
  attempts: number;
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** 0.5 s, 1 s, 2 s... up to 10 s, with jitter. */
const backoff = (attempt: number) => Math.min(10_000, 500 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

export class RapportApiError extends Error {
  constructor(readonly problem: ProblemDocument) {
    super(
      `${problem.status} ${problem.title}: ${problem.detail}${problem.errors?.length ? `\n${problem.errors.map((e) => `  ${e.path || '(body)'}: ${e.message}`).join('\n')}` : ''}`,
    );
    this.name = 'RapportApiError';
  }
}

export interface JourneyDetail extends JourneySummary {
  versions: VersionInfo[];
  enrollments: { version: number; status: string; step: string | null; customers: number }[];
}

export type PublishResult = PublishImpact & {
  dryRun: boolean;
  version?: number;
  created?: boolean;
  /** What the server's checks warn of, such as a template's translation without a variable its default reads. */
  warnings?: string[];
};

export interface CustomerDetail {
  customer: CustomerView & {
    metrics: CustomerMetrics;
    consent: Record<string, Record<string, boolean>>;
    /** Subscription topics chosen (true) or left (false) per channel; a topic not listed is subscribed. */
    topics: Record<string, Record<string, boolean>>;
    /** The lead score now (decayed since it last changed). */
    score: number;
    /** The account (client organisation) the customer is a contact of. */
    account: AccountFacts | null;
    /** The channel learned from their email clicks and SMS replies; null when nothing is learned. */
    learnedChannel: string | null;
  };
  identities: { kind: string; value: string; since: string }[];
  enrollments: EnrollmentView[];
  timeline: TimelineItem[];
}

export interface Explanation {
  customerId: string;
  enrollments: (EnrollmentExplanation & { waitingFor: string | null })[];
}

export class RapportClient {
  constructor(
    private readonly options: {
      baseUrl: string;
      apiKey?: string | undefined;
      timeoutMs?: number;
      /** Retries of a call that is safe to repeat (default 4). */
      retries?: number;
    },
  ) {}

  /**
   * One API call. `retry: true` marks a call that is safe to repeat (an event with its id, an order,
   * a read, an upsert): it is retried on a lost connection, 429 (after Retry-After) and 502-504,
   * with backoff, up to `retries` times.
   */
  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    retry = method === 'GET',
  ): Promise<T> {
    const attempts = retry ? (this.options.retries ?? 4) + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(new URL(path, this.options.baseUrl), {
          method,
          headers: {
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
            ...headers,
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } catch (err) {
        if (attempt < attempts) {
          await pause(backoff(attempt));
          continue;
        }
        throw new Error(`cannot reach Rapport at ${this.options.baseUrl}: ${(err as Error).message}`);
      }
      if (attempt < attempts && (res.status === 429 || (res.status >= 502 && res.status <= 504))) {
        const after = Number(res.headers.get('retry-after'));
        await res.body?.cancel();
        await pause(Number.isFinite(after) && after > 0 ? Math.min(after, 60) * 1000 : backoff(attempt));
        continue;
      }
      const text = await res.text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      if (!res.ok) throw new RapportApiError(parsed as ProblemDocument);
      return parsed as T;
    }
  }

  /** One event. With an id (or idempotency key) it is retried safely: a repeat has no second effect. */
  /**
   * Sends an event; the receipt says it was accepted. With `waitForRouting`, the answer waits (up to
   * 10 s) until the event is routed, and lists the enrollments and signals.
   */
  sendEvent(
    event: IncomingEvent,
    idempotencyKey?: string,
    options: { waitForRouting?: boolean } = {},
  ): Promise<EventReceipt> {
    return this.request(
      'POST',
      options.waitForRouting ? '/v1/events?wait=routed' : '/v1/events',
      event,
      idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
      Boolean(event.id ?? idempotencyKey),
    );
  }
  /** An event's receipt: accepted, routed or parked, with its enrollments and signals once routed. */
  getEvent(id: string): Promise<EventDetail> {
    return this.request('GET', `/v1/events/${encodeURIComponent(id)}`, undefined, {}, true);
  }
  /** Routes a parked event again (after fixing what stopped it); its receipt. */
  retryEvent(id: string): Promise<EventReceipt> {
    return this.request('POST', `/v1/events/${encodeURIComponent(id)}/retry`, undefined, {}, true);
  }
  /** The router's backlog: events waiting to be routed, for a retry, or parked; the oldest's age. */
  routingBacklog(): Promise<RoutingBacklog> {
    return this.request('GET', '/v1/routing', undefined, {}, true);
  }
  /** Compares active enrollments and open send claims with Temporal now (admin); what changed. */
  reconcile(options: { minAgeSeconds?: number; limit?: number } = {}): Promise<ReconcileReport> {
    return this.request('POST', '/v1/reconcile', options);
  }
  /**
   * Up to 1,000 events in one request, each with its id. The answer lists each event's receipt or
   * problem, in order; sending the same batch again changes nothing.
   */
  sendEvents(events: IncomingEvent[], options: { waitForRouting?: boolean } = {}): Promise<BatchResult> {
    return this.request('POST', options.waitForRouting ? '/v1/events?wait=routed' : '/v1/events', { events }, {}, true);
  }
  /** An order: updates the customer's metrics and emits order.placed (once per order id). */
  placeOrder(order: OrderInput, options: { waitForRouting?: boolean } = {}): Promise<EventReceipt> {
    return this.request('POST', options.waitForRouting ? '/v1/orders?wait=routed' : '/v1/orders', order, {}, true);
  }
  /** Creates the customer these identities name, or updates the one they find. */
  upsertCustomer(customer: IncomingEvent['customer'], profile: IncomingEvent['profile'] = {}): Promise<CustomerDetail> {
    return this.request('POST', '/v1/customers', { customer, profile }, {}, true);
  }
  updateCustomer(ref: string, profile: NonNullable<IncomingEvent['profile']>): Promise<CustomerDetail> {
    return this.request('PATCH', `/v1/customers/${encodeURIComponent(ref)}`, profile, {}, true);
  }
  /**
   * Erases the customer's personal data (and that of records merged into them), cancelling their
   * journeys; their data keys are destroyed, so what Temporal keeps of them cannot be read.
   */
  eraseCustomer(ref: string): Promise<{
    customer: string;
    erased: true;
    cancelled: string[];
    mergedRecords: number;
    keysDestroyed: number;
    outboxMessages: number;
  }> {
    return this.request('POST', `/v1/customers/${encodeURIComponent(ref)}/erase`, undefined, {}, true);
  }
  async listEnrollments(
    journey: string,
    filter: { status?: string; limit?: number } = {},
  ): Promise<(EnrollmentView & { customerId: string })[]> {
    const q = new URLSearchParams();
    if (filter.status) q.set('status', filter.status);
    if (filter.limit) q.set('limit', String(filter.limit));
    return (
      await this.request<{ enrollments: (EnrollmentView & { customerId: string })[] }>(
        'GET',
        `/v1/journeys/${encodeURIComponent(journey)}/enrollments?${q.toString()}`,
      )
    ).enrollments;
  }
  cancelEnrollment(id: string, reason?: string): Promise<{ enrollment: string; status: string }> {
    return this.request('POST', `/v1/enrollments/${encodeURIComponent(id)}/cancel`, reason ? { reason } : {});
  }
  createKey(name: string, scopes: Scope[]): Promise<ApiKeyView & { key: string }> {
    return this.request('POST', '/v1/keys', { name, scopes });
  }
  async listKeys(): Promise<ApiKeyView[]> {
    return (await this.request<{ keys: ApiKeyView[] }>('GET', '/v1/keys')).keys;
  }
  revokeKey(id: string): Promise<{ id: string; revoked: true }> {
    return this.request('DELETE', `/v1/keys/${encodeURIComponent(id)}`);
  }
  /**
   * The audit trail (admin keys): who did what to what, newest first, `limit` at a time (default
   * 100); `cursor` is the `next` of the page before. Times are ISO 8601; `until` is exclusive.
   */
  audit(
    filter: Partial<Record<Exclude<keyof AuditFilter, 'limit'>, string | undefined>> & { limit?: number } = {},
  ): Promise<{ entries: AuditItem[]; next: string | null }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const tail = q.size > 0 ? `?${q.toString()}` : '';
    return this.request('GET', `/v1/audit${tail}`);
  }
  /**
   * Rows of a customer base (`rapport import`): history, which enrolls nobody. Up to 1,000 rows;
   * `file` names them in the evidence of imported consent and suppressions.
   */
  importRows(kind: 'customers' | 'orders' | 'suppressions', rows: ImportRow[], file?: string): Promise<ImportReport> {
    return this.request('POST', `/v1/imports/${kind}`, { rows, ...(file ? { file } : {}) });
  }
  /** A customer by id, email or phone. */
  getCustomer(ref: string): Promise<CustomerDetail> {
    return this.request('GET', `/v1/customers/${encodeURIComponent(ref)}`);
  }
  /**
   * One page of customers, filtered (`where`: CEL over the customer; `stage`, `tag`, `email`) and
   * sorted (`sort`, `order`); `cursor` is the `next` of the page before.
   */
  listCustomers(query: CustomerListOptions = {}): Promise<CustomerPage> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    return this.request('GET', `/v1/customers${q.size > 0 ? `?${q.toString()}` : ''}`);
  }
  /** Every customer the query finds, page by page (`onPage` after each, with the count so far). */
  async *allCustomers(
    query: Omit<CustomerListOptions, 'cursor'> = {},
    onPage?: (count: number) => void,
  ): AsyncGenerator<ListedCustomer> {
    let cursor: string | undefined;
    let count = 0;
    do {
      const page = await this.listCustomers({ ...query, ...(cursor ? { cursor } : {}) });
      for (const c of page.customers) yield c;
      count += page.customers.length;
      onPage?.(count);
      cursor = page.next ?? undefined;
    } while (cursor);
  }
  /** An account (client organisation): its contacts, the orders placed for it, its predicted value. */
  getAccount(id: string): Promise<AccountView> {
    return this.request('GET', `/v1/accounts/${encodeURIComponent(id)}`);
  }
  /**
   * Every contact's timeline entries, newest first, `limit` at a time (default 50); `before` is the
   * `next` of the page before, or an ISO 8601 time.
   */
  accountTimeline(
    id: string,
    page: { before?: string; limit?: number } = {},
  ): Promise<{ account: string; entries: AccountTimelineItem[]; next: string | null }> {
    const q = new URLSearchParams();
    if (page.before) q.set('before', page.before);
    if (page.limit) q.set('limit', String(page.limit));
    return this.request('GET', `/v1/accounts/${encodeURIComponent(id)}/timeline?${q.toString()}`);
  }
  explain(ref: string, journey?: string): Promise<Explanation> {
    const q = journey ? `?journey=${encodeURIComponent(journey)}` : '';
    return this.request('GET', `/v1/customers/${encodeURIComponent(ref)}/explain${q}`);
  }
  /** Merges two records of one person; where both were in one journey, the enrollments cancelled. */
  mergeCustomers(
    into: string,
    from: string,
    reason?: string,
  ): Promise<{ customer: string; merged: string; cancelledEnrollments: string[] }> {
    return this.request('POST', '/v1/customers/merge', { into, from, ...(reason ? { reason } : {}) });
  }
  async listJourneys(): Promise<JourneySummary[]> {
    return (await this.request<{ journeys: JourneySummary[] }>('GET', '/v1/journeys')).journeys;
  }
  getJourney(id: string): Promise<JourneyDetail> {
    return this.request('GET', `/v1/journeys/${encodeURIComponent(id)}`);
  }
  /**
   * Fits the customer value models on the whole customer base (its orders up to `asOf`, default now;
   * admin keys). A fit as of now starts a refresh of every customer's segments and lifecycle stage,
   * the workflow `refresh.workflowId`.
   */
  fitInsights(asOf?: string): Promise<FittedModels & { refresh: { workflowId: string } | null }> {
    return this.request('POST', '/v1/insights/fit', asOf ? { asOf } : {});
  }
  /** The newest fit of the customer value models. */
  insights(): Promise<FittedModels> {
    return this.request('GET', '/v1/insights');
  }
  /** Did the journey work: its report, for one version or all, over a range of days (UTC). */
  journeyReport(id: string, query: ReportQuery = {}): Promise<JourneyReport> {
    const q = new URLSearchParams();
    if (query.version !== undefined) q.set('version', String(query.version));
    if (query.since) q.set('since', query.since);
    if (query.until) q.set('until', query.until);
    const tail = q.size > 0 ? `?${q.toString()}` : '';
    return this.request('GET', `/v1/journeys/${encodeURIComponent(id)}/report${tail}`);
  }
  publish(
    plan: JourneyPlan,
    source: string,
    options: { sourcePath?: string; dryRun?: boolean } = {},
  ): Promise<PublishResult> {
    return this.request('POST', '/v1/journeys/publish', {
      plan,
      source,
      sourcePath: options.sourcePath ?? null,
      dryRun: options.dryRun ?? false,
    });
  }
  pauseJourney(id: string): Promise<{ journey: string; status: string }> {
    return this.request('POST', `/v1/journeys/${encodeURIComponent(id)}/pause`);
  }
  resumeJourney(id: string): Promise<{ journey: string; status: string }> {
    return this.request('POST', `/v1/journeys/${encodeURIComponent(id)}/resume`);
  }
  /** A send step's message as a customer would get it; nothing is written. */
  previewStep(journey: string, step: string, input: PreviewInput): Promise<MessagePreview> {
    const path = `/v1/journeys/${encodeURIComponent(journey)}/steps/${encodeURIComponent(step)}/preview`;
    return this.request('POST', path, input, {}, true);
  }
  /** Sends a step's message for real to `input.to`, marked as a test; no customer's record changes. */
  sendTest(journey: string, step: string, input: SendTestInput): Promise<TestSend> {
    return this.request(
      'POST',
      `/v1/journeys/${encodeURIComponent(journey)}/steps/${encodeURIComponent(step)}/send-test`,
      input,
    );
  }
  async listTasks(filter: { team?: string | undefined; status?: string | undefined } = {}): Promise<TaskView[]> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, v);
    return (await this.request<{ tasks: TaskView[] }>('GET', `/v1/tasks?${q.toString()}`)).tasks;
  }
  completeTask(id: string, outcome: string, note?: string): Promise<{ task: TaskView }> {
    return this.request('POST', `/v1/tasks/${encodeURIComponent(id)}/complete`, { outcome, ...(note ? { note } : {}) });
  }
}
