/**
 * Routing: an accepted event enrolls its customer in every published journey whose trigger matches
 * (the decision is decide.ts), and reaches every running journey of the customer that waits for its
 * type. Routing is safe to repeat for an event; each customer's events are routed in the order they
 * were accepted; a failure is recorded and tried again by the router, which parks an event that
 * keeps failing. Accepting is intake.ts.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { type Selectable, sql } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Logger } from 'pino';
import { type Db, isDatabaseUnavailable } from '../../../activities/db/database';
import type { Database, EventsTable } from '../../../activities/db/schema';
import { type KeyLocks, processLocks } from '../../../activities/db/locks';
import { newId } from '../../../activities/store/ids';
import { latestVersionNumbers, type PublishedVersionNumber } from '../../../activities/store/journeys';
import { versionPlan } from '../../../activities/store/versions';
import { timelineColumns, timelineSelection } from '../../../activities/store/timeline';
import { customerFacts } from '../../../activities/store/facts';
import type { CustomerFacts } from '../../../definitions/facts';
import type { JourneyPlan } from '../../../definitions/schema/journey';
import {
  SA_CUSTOMER,
  SA_JOURNEY,
  SA_STEP,
  SA_VERSION,
  journeyWorkflowId,
} from '../../../definitions/search-attributes';
import { eventsOf, walk } from '../../../definitions/steps';
import { holdoutOf } from '../../../definitions/holdout';
import { exitEventTypes, raisedByWatch, triggerEventType } from '../../../definitions/triggers';
import type { EventSignal, JourneyInput } from '../../../workflows/types';
import { pool } from './pool';
import { decideEnrollment, enrollmentKey, keyPart } from './decide';
import { settleMerges } from './enrollments';
import type { EventReceipt } from './schema';
import type { DataProtection } from '../protection';
import { JOURNEY_WORKFLOW, journeyEventSignal, type JourneyWorkflow } from '../../../workflows/messages';

export interface RouterDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  logger: Logger;
  /** Serialize each customer's routing; default: within this process (see activities/db/locks.ts). */
  locks?: KeyLocks | undefined;
  /** Makes a new customer's data key as they are accepted (client/server/protection.ts). */
  protection?: DataProtection | undefined;
  /** Called at each point of routing (fault injection: `npm run faults`, faults/README.md). */
  onRoutePoint?: ((point: RoutePoint, eventId: string) => void) | undefined;
  /** Journeys continue as new after this many steps, not only when Temporal suggests it (fault injection). */
  maxStepsPerRun?: number | undefined;
  /** The share of customers kept out of every marketing journey's sends (RAPPORT_GLOBAL_HOLDOUT). */
  globalHoldout?: number | undefined;
}

/**
 * Where routing can be interrupted: with the event accepted and not routed yet, and with a journey's
 * run started in Temporal and the event not yet recorded as routed.
 */
type RoutePoint = 'before-route' | 'after-start';

/** Routing tries an event this many times before it parks it, unless Temporal was away (it waits for that). */
export const MAX_ROUTE_ATTEMPTS = 5;
/** After Temporal was found unreachable, requests leave routing to the router this long. */
const TEMPORAL_AWAY_MS = 5_000;
/** The longest wait between two tries to route an event. */
const MAX_ROUTE_BACKOFF_MS = 60_000;

/**
 * Whether an error says Temporal could not be reached (rather than refused the request): such an
 * event waits for Temporal to come back and is never parked for it.
 */
export function isTemporalUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    // gRPC UNAVAILABLE and DEADLINE_EXCEEDED; a refused connection.
    if (code === 14 || code === 4 || code === 'ECONNREFUSED') return true;
    if (
      e instanceof Error &&
      /\bUNAVAILABLE\b|No connection established|ECONNREFUSED|Connection dropped/i.test(e.message)
    )
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** What routing read of an event that the segment watch reads too: it need not read them again. */
export interface RoutingRead {
  /** The customer's facts after the event's writes, when a condition or a running journey needed them. */
  facts?: Promise<CustomerFacts>;
  /** The newest version of every journey, as routing found them. */
  versions?: PublishedVersionNumber[];
}

/** Told of the customer of each routed event, with what routing read. */
type CustomerChanged = (customerId: string, read: RoutingRead) => Promise<unknown>;

/**
 * What a round of the router reads once for all the events it routes: the newest version of every
 * journey, read after the round's events were read (so every publish, pause or resume made before
 * an event was accepted applies to it).
 */
export interface RoutingRound {
  versions: Promise<PublishedVersionNumber[]>;
}

/** Events of a batch routed at once (each a few queries and a Temporal call). */
export const ROUTING_CONCURRENCY = 16;

/** What routing reads of an accepted event. */
export type RoutedEvent = Pick<Selectable<EventsTable>, 'id' | 'customer_id' | 'type' | 'occurred_at' | 'data'>;

/** The newest version of every journey, and those of them an event's type enrolls in, with their plans. */
interface TriggeredJourneys {
  versions: PublishedVersionNumber[];
  triggered: (PublishedVersionNumber & { plan: JourneyPlan })[];
}

/** A customer's enrollment as routing reads it. */
type EnrollmentRead = Pick<
  Selectable<Database['enrollments']>,
  'id' | 'journey_id' | 'version' | 'workflow_id' | 'event_id' | 'key' | 'status' | 'ended_at'
>;

/** An enrollment read as JSON (with its customer's pending events): its end a time again. */
function enrollmentOfJson(e: Omit<EnrollmentRead, 'ended_at'> & { ended_at: Date | string | null }): EnrollmentRead {
  return { ...e, ended_at: e.ended_at === null ? null : new Date(e.ended_at) };
}

export class EventRouter {
  private readonly perCustomer: KeyLocks;

  constructor(private readonly deps: RouterDeps) {
    this.perCustomer = deps.locks ?? processLocks();
  }

  /**
   * Routes an accepted event: enrollments and signals. Safe to repeat for the same event. `known` is
   * the event as just accepted, which spares reading it back.
   */
  async route(eventId: string, known?: RoutedEvent, round?: RoutingRound): Promise<EventReceipt> {
    const { db } = this.deps;
    const event =
      known ??
      (await db
        .selectFrom('events')
        .select(['id', 'customer_id', 'type', 'occurred_at', 'data'])
        .where('id', '=', eventId)
        .executeTakeFirstOrThrow());
    // One router at a time routes a customer's events, in this process and, on PostgreSQL, in all.
    const receipt = await this.perCustomer.run(`route:${event.customer_id}`, async () => {
      const journeys = await this.journeysFor(event.type, round);
      // This event and the customer's events not routed yet, in the order they were accepted; with
      // them, in the same statement, the customer's enrollments that routing this event reads.
      const pending = await db
        .selectFrom('events')
        .select(['id', 'customer_id', 'type', 'occurred_at', 'data', 'next_route_at', 'seq', 'routed_at', 'result'])
        .select(() => jsonArrayFrom(this.enrollmentsQuery(event.customer_id, journeys.triggered)).as('enrollments'))
        .where('customer_id', '=', event.customer_id)
        .where((eb) =>
          eb.or([eb('id', '=', eventId), eb.and([eb('routed_at', 'is', null), eb('parked_at', 'is', null)])]),
        )
        .orderBy('seq')
        .execute();
      const current = pending.find((e) => e.id === eventId);
      if (!current) throw new Error(`event ${eventId} is not among its customer's events`);
      if (current.routed_at && current.result) return routedReceipt(current.result);
      // The customer's events are routed in the order they were accepted: earlier ones not routed yet
      // go first, here; one that cannot be routed now holds this one back (the router takes both).
      const earlier = pending.filter((p) => p.seq < current.seq && !p.routed_at);
      for (const e of earlier) {
        const due = !e.next_route_at || e.next_route_at.getTime() <= Date.now();
        const routed = due
          ? await this.routeHere(e.id, e, round).catch((err: unknown) => this.deferRouting(e.id, err))
          : undefined;
        if (routed?.status !== 'routed') {
          return pendingReceipt(eventId, event.customer_id, 'accepted', `waits for event ${e.id} to be routed first`);
        }
      }
      // Routing the earlier events may have changed the enrollments read with them: read again then.
      const read =
        earlier.length === 0 ? { journeys, enrollments: current.enrollments.map(enrollmentOfJson) } : undefined;
      return this.routeHere(eventId, event, round, read);
    });
    // The event may have changed what the customer's facts match (an order, a profile, a score):
    // their segments are followed now, outside the lock, since an entry is an event of its own. The
    // events the segment watch raises itself (entries, exits, lapses) follow a change it has already
    // followed, so routing one looks no further.
    if (receipt.status === 'routed' && this.changed && !raisedByWatch(event.type)) {
      await this.changed(event.customer_id, this.routingRead.get(receipt) ?? {}).catch((err: unknown) =>
        this.routingFailed('following segments', err),
      );
    }
    return receipt;
  }

  private changed: CustomerChanged | undefined;
  /** What routing read of an event (the customer's facts after its writes, the published versions), for the segment watch. */
  private readonly routingRead = new WeakMap<EventReceipt, RoutingRead>();

  /** Calls `changed` for the customer of each event routed (segment-watch.ts follows their segments). */
  onCustomerChanged(changed: CustomerChanged): void {
    this.changed = changed;
  }

  /**
   * Routes one event not routed yet (the caller read it so, holding the customer's lock), its
   * customer's earlier ones being routed.
   */
  private async routeHere(
    eventId: string,
    event: RoutedEvent,
    round?: RoutingRound,
    read?: { journeys: TriggeredJourneys; enrollments: EnrollmentRead[] },
  ): Promise<EventReceipt> {
    const { db } = this.deps;
    this.deps.onRoutePoint?.('before-route', eventId);
    const receipt: EventReceipt = {
      eventId,
      customerId: event.customer_id,
      status: 'routed',
      enrolled: [],
      signalled: [],
      notEnrolled: [],
    };
    const journeyEvent = {
      id: event.id,
      type: event.type,
      occurredAt: event.occurred_at.toISOString(),
      data: event.data,
    };
    // The customer's facts (record, consent, metrics) are read once, and only when a condition or
    // a running journey needs them.
    let facts: Promise<CustomerFacts> | undefined;
    const customerNow = () =>
      (facts ??= db
        .selectFrom('customers')
        .selectAll()
        .where('id', '=', event.customer_id)
        .executeTakeFirstOrThrow()
        .then((row) => customerFacts(db, row)));

    const { versions, triggered } = read?.journeys ?? (await this.journeysFor(event.type, round));
    const enrollments = read?.enrollments ?? (await this.enrollmentsQuery(event.customer_id, triggered).execute());

    // Running journeys of this customer that listen for this event type receive it first, so an
    // event that ends one journey (a goal, an exit) is seen before it starts another.
    for (const enrollment of enrollments.filter((e) => e.status === 'active')) {
      // An enrollment this very event started (routing repeated after a crash) does not get it again.
      if (enrollment.event_id === event.id) continue;
      const plan = await this.planOf(enrollment.journey_id, enrollment.version);
      if (!listensTo(plan, event.type)) continue;
      // A keyed enrollment gets the events that give its key, and those that give none.
      if (enrollment.key !== null) {
        const given = enrollmentKey(plan.definition, journeyEvent);
        if ('key' in given && given.key !== undefined && given.key !== enrollment.key) continue;
      }
      const signal: EventSignal = { event: journeyEvent, customer: await customerNow() };
      try {
        await this.deps.temporal.workflow.getHandle(enrollment.workflow_id).signal(journeyEventSignal, signal);
        receipt.signalled.push({ journey: enrollment.journey_id, workflowId: enrollment.workflow_id });
      } catch (err) {
        // The workflow ended between the read and the signal: nothing is listening any more.
        // Anything else (Temporal unreachable) leaves the event unrouted, to be routed again.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        this.deps.logger.debug({ workflowId: enrollment.workflow_id }, 'signal not delivered: the journey has ended');
      }
    }

    for (const published of triggered) {
      const def = published.plan.definition;
      const journey = def.journey;
      // A keyed journey enrolls per key: the event must give one, and the rules below read that
      // key's enrollments only.
      const keyed = enrollmentKey(def, journeyEvent);
      if ('refuse' in keyed) {
        receipt.notEnrolled.push({ journey, reason: keyed.refuse });
        continue;
      }
      const key = keyed.key;

      // This customer's enrollments in the journey (for the key, when keyed), newest first.
      const earlier = enrollments.filter((e) => e.journey_id === journey && (key === undefined || e.key === key));
      const decision = decideEnrollment({
        def,
        paused: published.status === 'paused',
        event: journeyEvent,
        earlier,
        customer: def.trigger.when ? await customerNow() : undefined,
        now: new Date(),
      });
      if (decision.action === 'refuse') {
        receipt.notEnrolled.push({ journey, reason: decision.reason });
        continue;
      }
      let enrollment: { id: string; version: number; workflow_id: string; status?: string } | undefined =
        decision.action === 'resume' ? decision.enrollment : undefined;
      if (!enrollment) {
        const id = newId('enr');
        const workflowId = journeyWorkflowId(
          journey,
          event.customer_id,
          def.entry?.concurrent ? id : key !== undefined ? keyPart(journey, key) : undefined,
        );
        // The enrollment and its timeline entry, in one statement: the entry is written only when the
        // enrollment is.
        const note = timelineSelection({
          customerId: event.customer_id,
          at: new Date(),
          kind: 'enrollment',
          summary: `entered journey ${journey} (version ${published.version})`,
          ref: `start:${id}`,
          data: { journey, version: published.version, enrollment: id, eventId: event.id },
        });
        const inserted = await db
          .with('enrolled', (q) =>
            q
              .insertInto('enrollments')
              .values({
                id,
                customer_id: event.customer_id,
                journey_id: journey,
                version: published.version,
                workflow_id: workflowId,
                event_id: event.id,
                key: key ?? null,
                status: 'active',
                current_step: def.steps[0]?.id ?? null,
                goal_met: false,
              })
              .onConflict((oc) => oc.doNothing())
              .returning(['id', 'version', 'workflow_id']),
          )
          .with('noted', (q) =>
            q
              .insertInto('timeline')
              .columns(timelineColumns)
              .expression((eb) => eb.selectFrom('enrolled').select(note))
              .onConflict((oc) => oc.columns(['customer_id', 'kind', 'ref']).doNothing()),
          )
          .selectFrom('enrolled')
          .select(['id', 'version', 'workflow_id'])
          .executeTakeFirst();
        if (!inserted) {
          receipt.notEnrolled.push({ journey, reason: 'already in this journey' });
          continue;
        }
        enrollment = inserted;
      }
      const { version, workflow_id: workflowId } = enrollment;
      // Routing repeated after this enrollment's journey ran and ended: nothing to start again.
      if (enrollment.status !== undefined && enrollment.status !== 'active') {
        receipt.enrolled.push({ journey, version, workflowId, enrollmentId: enrollment.id });
        continue;
      }
      const plan = version === published.version ? published.plan : await this.planOf(journey, version);
      const input: JourneyInput = {
        plan,
        version,
        customerId: event.customer_id,
        enrollmentId: enrollment.id,
        event: journeyEvent,
        ...(this.deps.maxStepsPerRun !== undefined ? { maxStepsPerRun: this.deps.maxStepsPerRun } : {}),
      };
      const holdout = holdoutOf(plan.definition, event.customer_id, this.deps.globalHoldout ?? 0);
      if (holdout) input.holdout = holdout;
      try {
        await this.deps.temporal.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, {
          taskQueue: this.deps.taskQueue,
          workflowId,
          args: [input],
          // The run carries its enrollment's id, so a start that finds a run going knows whose it is.
          memo: { enrollmentId: enrollment.id },
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          typedSearchAttributes: [
            { key: SA_JOURNEY, value: journey },
            { key: SA_VERSION, value: version },
            { key: SA_CUSTOMER, value: event.customer_id },
            { key: SA_STEP, value: def.steps[0]?.id ?? 'start' },
          ],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        // A run is going under this id: this enrollment's (routing repeated), or the customer's last
        // enrollment still ending. A new enrollment never joins the run that is ending: routing
        // fails for now and is tried again in a moment, when that run has closed.
        const running = await this.deps.temporal.workflow.getHandle(workflowId).describe();
        const runFor = running.memo?.enrollmentId;
        // Runs started before runs carried their enrollment: taken as this one's when routing repeats.
        const ours = runFor === enrollment.id || (runFor === undefined && decision.action === 'resume');
        if (!ours) {
          throw new Error(`the previous run of ${workflowId} is still ending; the new enrollment starts once it has`);
        }
      }
      this.deps.onRoutePoint?.('after-start', eventId);
      receipt.enrolled.push({ journey, version, workflowId, enrollmentId: enrollment.id });
    }
    await db
      .updateTable('events')
      .set({
        routed_at: new Date(),
        // The order events were routed in, across processes: each customer's follows their acceptance.
        routed_seq: sql<number>`nextval('events_routed_order')`,
        result: JSON.stringify(receipt),
        parked_at: null,
        next_route_at: null,
      })
      .where('id', '=', eventId)
      .execute();
    this.deps.logger.info(
      { eventId, type: event.type, customerId: event.customer_id, enrolled: receipt.enrolled.map((e) => e.journey) },
      'event routed',
    );
    this.routingRead.set(receipt, { versions, ...(facts ? { facts } : {}) });
    return receipt;
  }

  /**
   * The journeys an event of this type enrolls in (their rules in routeHere), from the newest
   * versions: as this routing round read them, or now.
   */
  private async journeysFor(type: string, round?: RoutingRound): Promise<TriggeredJourneys> {
    const versions = await (round?.versions ?? latestVersionNumbers(this.deps.db));
    const published = await Promise.all(
      versions.map(async (latest) => ({ ...latest, plan: await this.planOf(latest.journeyId, latest.version) })),
    );
    // A scheduled journey enrolls by the events of its runs (activities/segments.ts), a segment
    // journey by its entries (segment-watch.ts).
    return { versions, triggered: published.filter((p) => triggerEventType(p.plan.definition) === type) };
  }

  /**
   * The customer's enrollments that routing looks at, newest first: the running ones, and every one
   * in the journeys the event triggers (the reentry rule reads them, and the one this event started,
   * if routing is repeated).
   */
  private enrollmentsQuery(customerId: string, triggered: TriggeredJourneys['triggered']) {
    return this.deps.db
      .selectFrom('enrollments')
      .select(['id', 'journey_id', 'version', 'workflow_id', 'event_id', 'key', 'status', 'ended_at'])
      .where('customer_id', '=', customerId)
      .where((eb) =>
        triggered.length > 0
          ? eb.or([
              eb('status', '=', 'active'),
              eb(
                'journey_id',
                'in',
                triggered.map((p) => p.journeyId),
              ),
            ])
          : eb('status', '=', 'active'),
      )
      .orderBy('started_at', 'desc');
  }

  private readonly plans = new Map<string, JourneyPlan>();

  /** A published version's plan; versions never change, so they are kept once read. */
  async planOf(journeyId: string, version: number): Promise<JourneyPlan> {
    const key = `${journeyId}@${version}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = await versionPlan(this.deps.db, journeyId, version);
      if (!plan) throw new Error(`journey ${journeyId} has no version ${version}`);
      this.plans.set(key, plan);
    }
    return plan;
  }

  /**
   * Settles enrollments brought together by merged records (all pending merges, or these customers'):
   * one per journey stays. Returns the enrollments cancelled.
   */
  settleMerges(customerIds?: string[]): Promise<string[]> {
    return settleMerges({ ...this.deps, planOf: (j, v) => this.planOf(j, v) }, customerIds);
  }

  /** Until when requests leave routing to the router, Temporal having been unreachable just now. */
  private temporalAwayUntil = 0;

  /** Whether Temporal was found unreachable a moment ago. */
  temporalAway(): boolean {
    return Date.now() < this.temporalAwayUntil;
  }

  /**
   * Routes an accepted event; when that fails, records the failure, so the router tries again with
   * backoff (and parks the event after MAX_ROUTE_ATTEMPTS, unless Temporal or the database was only
   * unreachable).
   * Never throws for a routing failure: the event is accepted either way.
   */
  async routeOrDefer(eventId: string, known?: RoutedEvent, round?: RoutingRound): Promise<EventReceipt> {
    try {
      return await this.route(eventId, known, round);
    } catch (err) {
      return this.deferRouting(eventId, err);
    }
  }

  private async deferRouting(eventId: string, err: unknown): Promise<EventReceipt> {
    // Neither Temporal nor the customer database away is the event's fault: it waits, never parked.
    const databaseAway = isDatabaseUnavailable(err);
    const temporalAway = !databaseAway && isTemporalUnavailable(err);
    const transient = databaseAway || temporalAway;
    const message = err instanceof Error ? err.message : String(err);
    const row = await this.deps.db
      .selectFrom('events')
      .select(['customer_id', 'route_attempts'])
      .where('id', '=', eventId)
      .executeTakeFirstOrThrow();
    const attempts = row.route_attempts + 1;
    const park = !transient && attempts >= MAX_ROUTE_ATTEMPTS;
    const backoff = Math.min(MAX_ROUTE_BACKOFF_MS, 1000 * 2 ** (attempts - 1));
    const error = temporalAway
      ? `Temporal unreachable: ${message}`
      : databaseAway
        ? `the customer database unreachable: ${message}`
        : message;
    if (temporalAway) this.temporalAwayUntil = Date.now() + TEMPORAL_AWAY_MS;
    await this.deps.db
      .updateTable('events')
      .set({
        route_attempts: attempts,
        route_error: error,
        next_route_at: new Date(Date.now() + backoff),
        parked_at: park ? new Date() : null,
      })
      .where('id', '=', eventId)
      .where('routed_at', 'is', null)
      .execute();
    this.deps.logger[park ? 'error' : 'warn'](
      { eventId, customerId: row.customer_id, attempts, transient, err: { message } },
      park ? 'event parked: routing failed; retry it with `rapport events retry`' : 'routing failed; will try again',
    );
    return pendingReceipt(eventId, row.customer_id, park ? 'parked' : 'accepted', error);
  }

  /** Logs a failure of routing's own machinery (not of one event's routing, which deferRouting records). */
  routingFailed(what: string, err: unknown): void {
    this.deps.logger.warn(
      { err: { message: err instanceof Error ? err.message : String(err) } },
      `${what} failed; will try again`,
    );
  }

  /**
   * Routes the accepted events that are due, oldest first, several customers at a time and each
   * customer's in order (a customer whose next event is waiting for a retry waits with it). Returns
   * how many were routed.
   */
  async routeDue(limit = 500): Promise<number> {
    const rows = await this.deps.db
      .selectFrom('events')
      .select(['id', 'customer_id', 'type', 'occurred_at', 'data', 'next_route_at'])
      .where('routed_at', 'is', null)
      .where('parked_at', 'is', null)
      .orderBy('seq')
      .limit(limit)
      .execute();
    if (rows.length === 0) return 0;
    const versions = latestVersionNumbers(this.deps.db);
    // Read once for the round; a failure here fails each event's routing, which records it.
    versions.catch(() => undefined);
    const round: RoutingRound = { versions };
    const byCustomer = new Map<string, typeof rows>();
    for (const r of rows) byCustomer.set(r.customer_id, [...(byCustomer.get(r.customer_id) ?? []), r]);
    let routed = 0;
    const now = Date.now();
    await pool([...byCustomer.values()], ROUTING_CONCURRENCY, async (events) => {
      for (const e of events) {
        if (e.next_route_at && e.next_route_at.getTime() > now) return;
        const receipt = await this.routeOrDefer(e.id, e, round);
        if (receipt.status !== 'routed') return;
        routed++;
      }
    });
    return routed;
  }

  /**
   * The router: settles pending merges and routes due events every `everyMs`, until stopped. A
   * failure is logged and tried again on the next round; it never stops the process.
   */
  startRouting(everyMs = 500): { stop(): Promise<void> } {
    let stopped = false;
    let running = false;
    let again = false;
    let timer: NodeJS.Timeout | undefined;
    let round: Promise<void> = Promise.resolve();
    const run = async () => {
      running = true;
      do {
        again = false;
        try {
          await this.settleMerges();
          const routed = await this.routeDue();
          if (routed > 0) this.deps.logger.debug({ routed }, 'routed accepted events');
        } catch (err) {
          this.routingFailed('a routing round', err);
        }
      } while (again && !stopped);
      running = false;
      if (!stopped) {
        timer = setTimeout(() => {
          round = run();
        }, everyMs);
      }
    };
    // Accepted events wake the router at once instead of waiting for its next round.
    this.wake = () => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      clearTimeout(timer);
      round = run();
    };
    round = run();
    return {
      stop: async () => {
        stopped = true;
        this.wake = () => {};
        clearTimeout(timer);
        await round;
      },
    };
  }

  /** Wakes the router, when it runs, to route what was just accepted. */
  nudge(): void {
    this.wake();
  }

  private wake: () => void = () => {};

  /** Takes a parked event (or one waiting for its next try) back to be routed now; its receipt. */
  async retry(eventId: string): Promise<EventReceipt | undefined> {
    const row = await this.deps.db
      .updateTable('events')
      .set({ parked_at: null, next_route_at: null, route_attempts: 0 })
      .where('id', '=', eventId)
      .returning(['routed_at', 'result'])
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.routed_at && row.result) return routedReceipt(row.result);
    return this.routeOrDefer(eventId);
  }

  /** What became of an event: its status, and once routed, its enrollments and signals. */
  async receipt(
    eventId: string,
  ): Promise<
    (EventReceipt & { type: string; receivedAt: string; routedAt: string | null; attempts: number }) | undefined
  > {
    const row = await this.deps.db
      .selectFrom('events')
      .select([
        'id',
        'customer_id',
        'type',
        'received_at',
        'routed_at',
        'result',
        'parked_at',
        'route_error',
        'route_attempts',
      ])
      .where('id', '=', eventId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      ...receiptOfRow(row),
      type: row.type,
      receivedAt: row.received_at.toISOString(),
      routedAt: row.routed_at?.toISOString() ?? null,
      attempts: row.route_attempts,
    };
  }
}

/** An event's receipt from its row: what routing did, or why it is accepted or parked. */
export function receiptOfRow(row: {
  id: string;
  customer_id: string;
  routed_at: Date | null;
  result: unknown;
  parked_at: Date | null;
  route_error: string | null;
}): EventReceipt {
  return row.routed_at && row.result
    ? routedReceipt(row.result)
    : pendingReceipt(row.id, row.customer_id, row.parked_at ? 'parked' : 'accepted', row.route_error ?? undefined);
}

/** A receipt as stored when the event was routed (older ones were stored without a status). */
export function routedReceipt(stored: unknown): EventReceipt {
  return { ...(stored as EventReceipt), status: 'routed' };
}

/** The receipt of an event accepted and not (yet) routed. */
export function pendingReceipt(
  eventId: string,
  customerId: string,
  status: 'accepted' | 'parked',
  error?: string,
): EventReceipt {
  return { eventId, customerId, status, ...(error ? { error } : {}), enrolled: [], signalled: [], notEnrolled: [] };
}

/** Whether a journey's running enrollments want events of this type. */
export function listensTo(plan: JourneyPlan, type: string): boolean {
  const def = plan.definition;
  if (def.goal?.event === type || exitEventTypes(def).includes(type)) return true;
  let found = false;
  walk(def.steps, ['steps'], (step) => {
    if (eventsOf(step).includes(type)) found = true;
  });
  return found;
}
