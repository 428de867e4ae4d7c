/**
 * Reconciliation: what the customer database says is going on, checked against Temporal.
 *
 * - An active enrollment whose workflow failed, was terminated or timed out (or never started, or
 *   no longer exists) is recorded as `failed`, with the reason, on the enrollment and the timeline:
 *   the customer is no longer held as "already in this journey" and may enter again by its rules.
 * - A send claimed in the ledger whose journey is no longer running is swept: a claim made before
 *   the request went out is closed as failed (nothing was sent); one whose request was in flight is
 *   marked `unknown`, the ambiguous window, and reported.
 * - Parked events are counted and reported (they wait for `rapport events retry`).
 *
 * The worker runs it every minute (`startReconciling`); `POST /v1/reconcile` and `rapport reconcile`
 * run one pass. Every write is guarded by the state it changes, so processes may reconcile at once.
 */
import { recordEnded } from '../../../activities/store/journey-stats';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../../../activities/db/database';
import { currentCustomerId } from '../../../activities/store/customers';
import { appendTimeline } from '../../../activities/store/timeline';
import { pool } from './pool';

/** One enrollment the pass recorded as failed. */
interface ReconciledEnrollment {
  enrollmentId: string;
  customerId: string;
  journey: string;
  reason: string;
}

export interface ReconcileReport {
  /** Active enrollments compared with their workflow. */
  checked: number;
  /** Those found failed, terminated, timed out or missing, now recorded as failed. */
  failed: ReconciledEnrollment[];
  /** Send claims whose journey has gone: closed as failed (nothing went out) / marked unknown (ambiguous). */
  claimsClosed: number;
  claimsAmbiguous: { sendKey: string; customerId: string; stepId: string }[];
  /** Events parked with their error, waiting for a retry. */
  parkedEvents: number;
}

export interface ReconcileOptions {
  /** Enrollments and claims younger than this are left alone (their start or send may be under way); default 60 s. */
  minAgeMs?: number;
  /** Enrollments compared in one pass, the least recently compared first; default 500. */
  limit?: number;
}

interface ReconcileDeps {
  db: Db;
  temporal: Client;
  logger: Logger;
}

/** Calls to Temporal at once. */
const CONCURRENCY = 8;

/** Where a workflow is, as far as reconciliation is concerned. */
type RunState =
  | { kind: 'running' }
  | { kind: 'gone'; reason: string }
  /** Closed as completed while its enrollment is still active: it ended without recording it. */
  | { kind: 'completed' };

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const minAgeMs = options.minAgeMs ?? 60_000;
  const before = new Date(Date.now() - minAgeMs);
  const report: ReconcileReport = { checked: 0, failed: [], claimsClosed: 0, claimsAmbiguous: [], parkedEvents: 0 };

  const active = await deps.db
    .selectFrom('enrollments')
    .leftJoin('events', 'events.id', 'enrollments.event_id')
    .select([
      'enrollments.id',
      'enrollments.customer_id',
      'enrollments.journey_id',
      'enrollments.workflow_id',
      'events.routed_at',
      'events.parked_at',
    ])
    .where('enrollments.status', '=', 'active')
    .where('enrollments.started_at', '<', before)
    .orderBy(sql`enrollments.reconciled_at nulls first`)
    .orderBy('enrollments.started_at')
    .limit(options.limit ?? 500)
    .execute();
  report.checked = active.length;

  await pool(active, CONCURRENCY, async (e) => {
    const run = await runState(deps.temporal, e.workflow_id, e.id);
    if (run.kind === 'gone' && run.reason === NOT_FOUND && e.routed_at === null && e.parked_at === null) {
      // Its event is still being routed (Temporal away, retries): the router starts the workflow.
      return;
    }
    if (run.kind === 'running') {
      await deps.db.updateTable('enrollments').set({ reconciled_at: new Date() }).where('id', '=', e.id).execute();
      return;
    }
    const status = run.kind === 'completed' ? 'completed' : 'failed';
    const reason = run.kind === 'completed' ? 'its workflow completed without recording its end' : run.reason;
    const now = new Date();
    const ended = await deps.db
      .updateTable('enrollments')
      .set({ status, outcome: reason, ended_at: now, current_step: null, reconciled_at: now })
      .where('id', '=', e.id)
      .where('status', '=', 'active')
      .returning('id')
      .executeTakeFirst();
    if (!ended) return;
    await recordEnded(deps.db, e.id, status, now);
    await appendTimeline(deps.db, {
      customerId: await currentCustomerId(deps.db, e.customer_id),
      at: now,
      kind: 'enrollment',
      summary: `${status === 'failed' ? 'failed in' : 'completed'} journey ${e.journey_id} (${reason})`,
      ref: `end:${e.id}`,
      data: { journey: e.journey_id, enrollment: e.id, outcome: status, reconciled: true },
    });
    if (status === 'failed') {
      report.failed.push({ enrollmentId: e.id, customerId: e.customer_id, journey: e.journey_id, reason });
    }
  });

  await sweepClaims(deps, before, report);
  const parked = await deps.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('parked_at', 'is not', null)
    .where('routed_at', 'is', null)
    .executeTakeFirstOrThrow();
  report.parkedEvents = Number(parked.n);

  if (report.failed.length > 0 || report.claimsClosed > 0 || report.claimsAmbiguous.length > 0) {
    deps.logger.warn(
      {
        failed: report.failed.map((f) => ({ enrollmentId: f.enrollmentId, journey: f.journey, reason: f.reason })),
        claimsClosed: report.claimsClosed,
        claimsAmbiguous: report.claimsAmbiguous.map((c) => c.sendKey),
        parkedEvents: report.parkedEvents,
      },
      'reconciled enrollments and sends with Temporal',
    );
  }
  return report;
}

const NOT_FOUND = 'its workflow does not exist (it never started, or was removed after it closed)';

/** The run of `workflowId` that belongs to this enrollment, and whether it is still going. */
async function runState(temporal: Client, workflowId: string, enrollmentId: string): Promise<RunState> {
  let described;
  try {
    described = await temporal.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { kind: 'gone', reason: NOT_FOUND };
    throw err;
  }
  const runFor = described.memo?.enrollmentId;
  // The latest run under this id is another enrollment's: this one's run ended without recording
  // it (runs started before they carried their enrollment count as this one's).
  if (runFor !== undefined && runFor !== enrollmentId) {
    return { kind: 'gone', reason: 'its workflow run ended without recording its end' };
  }
  switch (described.status.name) {
    case 'RUNNING':
    case 'CONTINUED_AS_NEW':
      return { kind: 'running' };
    case 'COMPLETED':
      return { kind: 'completed' };
    case 'FAILED':
    case 'TERMINATED':
    case 'TIMED_OUT':
    case 'CANCELLED':
    case 'PAUSED':
    case 'UNSPECIFIED':
    case 'UNKNOWN': {
      const word = described.status.name.toLowerCase().replace('_', ' ');
      // The failure's own words (a termination's reason, the step's error), when they can be read.
      const why = await temporal.workflow
        .getHandle(workflowId, described.runId)
        .result()
        .then(
          () => undefined,
          (err: unknown) => (err instanceof WorkflowFailedError && err.cause ? err.cause.message : undefined),
        );
      return { kind: 'gone', reason: `its workflow ${word}${why ? `: ${why}` : ''}` };
    }
  }
}

/** Closes the ledger's claims whose journey is no longer running. */
async function sweepClaims(deps: ReconcileDeps, before: Date, report: ReconcileReport): Promise<void> {
  const claims = await deps.db
    .selectFrom('send_ledger')
    .select(['send_key', 'customer_id', 'workflow_id', 'step_id', 'phase'])
    .where('state', '=', 'claimed')
    .where('claimed_at', '<', before)
    .orderBy('claimed_at')
    .limit(500)
    .execute();
  const running = new Map<string, Promise<boolean>>();
  const isRunning = (workflowId: string) => {
    let known = running.get(workflowId);
    if (!known) {
      known = deps.temporal.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          (d) => d.status.name === 'RUNNING',
          (err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return false;
            throw err;
          },
        );
      running.set(workflowId, known);
    }
    return known;
  };
  await pool(claims, CONCURRENCY, async (c) => {
    // A running journey still owns its claim: its activity is retrying, or will.
    if (await isRunning(c.workflow_id)) return;
    const ambiguous = c.phase === 'request_in_flight';
    const swept = await deps.db
      .updateTable('send_ledger')
      .set({
        state: ambiguous ? 'unknown' : 'failed_permanent',
        phase: null,
        last_error: ambiguous
          ? 'its journey ended while the request was with the provider: whether it was sent is unknown'
          : 'its journey ended before the request was made: nothing was sent',
        updated_at: new Date(),
      })
      .where('send_key', '=', c.send_key)
      .where('state', '=', 'claimed')
      .returning('send_key')
      .executeTakeFirst();
    if (!swept) return;
    if (ambiguous) report.claimsAmbiguous.push({ sendKey: c.send_key, customerId: c.customer_id, stepId: c.step_id });
    else report.claimsClosed += 1;
  });
}

/** Reconciles every `everyMs` (default a minute) in the background; stop it before closing the database. */
export function startReconciling(
  deps: ReconcileDeps,
  options: ReconcileOptions & { everyMs?: number } = {},
): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  const tick = () => {
    pass = reconcile(deps, options)
      .then(
        () => undefined,
        (err: unknown) => deps.logger.warn({ err }, 'reconciliation failed; it runs again in a minute'),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.everyMs ?? 60_000);
      });
  };
  timer = setTimeout(tick, options.everyMs ?? 60_000);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
