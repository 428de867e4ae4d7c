/**
 * The journey report's counts, kept as they happen. A journey reports what its steps did with the
 * records it writes anyway (where a customer waits, the goal, the end), and each counted thing is a
 * mark of its enrollment: a retried record, or a step reached again in a loop, adds nothing. The
 * report (client/server/journeys/report.ts) sums the counts, whatever the number of enrollments.
 */
import { type OperationNodeSource, sql } from 'kysely';
import type { Db } from '../db/database';
import type { StepOutcome } from '../../workflows/types';

/** What a report counts. */
type Metric =
  /** Enrollments that entered (key ''). */
  | 'entered'
  /** Enrollments that reached a step (key: the step id). */
  | 'step'
  /** Enrollments whose step had an outcome (key: `<step>:<outcome>`, see outcomeKey). */
  | 'outcome'
  /** Messages by channel and status (key: `<channel>:<status>`, or `<channel>:<status>:<held by>`). */
  | 'message'
  /** Enrollments that entered by group (key: treated, holdout, global; see definitions/holdout.ts). */
  | 'group'
  /** Enrollments that met the goal (key ''). */
  | 'goal'
  /** Goals met by group (key: treated, holdout, global). */
  | 'goal_group'
  /** Goals met by how long after entering (key: a bucket, see timeBucket). */
  | 'goal_time'
  /** Goals met by split path (key: `<split step>:<path>`). */
  | 'goal_path'
  /** Enrollments that ended, by outcome (key: completed, goal, exited, failed). */
  | 'ended'
  /** Enrollments that left early, by reason (key: the reason). */
  | 'exit'
  /** Unsubscribes and STOPs, by the step whose message caused them (key: `<step>:<channel>`). */
  | 'unsubscribe';

export interface Mark {
  /** Unique within the enrollment: the same mark twice counts once. */
  mark: string;
  metric: Metric;
  key: string;
  /** When it happened (ISO 8601, the journey's own time); the report's days are UTC. */
  at: string;
}

/** A step's record as an enrollment reports it (the interpreter keeps them until reported). */
export interface ReportedStep {
  stepId: string;
  /** How many times the step ran before in this enrollment. */
  visit: number;
  at: string;
  result: StepOutcome;
}

/** What a record carries for the report: the steps run since the last report. */
export interface JourneyReportBatch {
  journeyId: string;
  version: number;
  /** When the enrollment entered: its first report counts it there. */
  enrolledAt: string;
  /** When this record is written (the journey's own time). */
  at: string;
  /** Whether the enrollment gets the journey's sends: `treated`, or held out (`holdout`, `global`). */
  group?: 'treated' | 'holdout' | 'global';
  steps: ReportedStep[];
}

/** Why the contact policy held a message back, from its words (activities/policy.ts). */
export function heldBy(
  reason: string | null,
): 'holdout' | 'suppression' | 'consent' | 'topic' | 'quiet_hours' | 'cap' | undefined {
  if (!reason) return undefined;
  if (reason === 'holdout' || reason === 'global holdout') return 'holdout';
  if (/\bsuppressed\b/.test(reason)) return 'suppression';
  if (/\bconsent\b/.test(reason)) return 'consent';
  if (/^topic \S+ left\b/.test(reason)) return 'topic';
  if (reason.startsWith('quiet hours')) return 'quiet_hours';
  if (reason.startsWith('frequency cap') || reason.startsWith('account cap')) return 'cap';
  return undefined;
}

/** A step outcome's name in the report: `case 2`, `otherwise`, `path b`, `event`, `timeout`, `sent`… */
export function outcomeKey(result: StepOutcome): string {
  switch (result.kind) {
    case 'branch':
      return result.case === null ? 'otherwise' : `case ${result.case}`;
    case 'split':
      return `path ${result.path}`;
    case 'task':
      return result.status === 'completed' && result.outcome ? `completed: ${result.outcome}` : result.status;
    case 'update':
      return 'updated';
    case 'exit':
      return 'exited';
    default:
      return result.status;
  }
}

/** The marks of a batch of step records: the step reached, its outcome, and each message's status. */
export function stepMarks(steps: readonly ReportedStep[]): Mark[] {
  const marks: Mark[] = [];
  for (const s of steps) {
    marks.push({ mark: `reached:${s.stepId}`, metric: 'step', key: s.stepId, at: s.at });
    const outcome = outcomeKey(s.result);
    marks.push({ mark: `out:${s.stepId}:${outcome}`, metric: 'outcome', key: `${s.stepId}:${outcome}`, at: s.at });
    if (s.result.kind === 'send') {
      const { channel, status } = s.result;
      const held = status === 'skipped' || status === 'deferred' ? heldBy(s.result.reason) : undefined;
      const key = [channel ?? 'none', status, ...(held ? [held] : [])].join(':');
      // A message per visit of the step; a deferred one counts as deferred, and again when it goes.
      marks.push({ mark: `msg:${s.stepId}:${s.visit}:${status}:${s.at}`, metric: 'message', key, at: s.at });
    }
  }
  return marks;
}

/** The marks of entering, counted on the enrollment's first report: entered, and in which group. */
export function enteredMarks(batch: JourneyReportBatch): Mark[] {
  const at = batch.enrolledAt;
  return [
    { mark: 'entered', metric: 'entered', key: '', at },
    ...(batch.group ? [{ mark: 'group', metric: 'group', key: batch.group, at } satisfies Mark] : []),
  ];
}

/**
 * A duration's bucket for the median time to goal: buckets grow by a tenth, so the median read
 * from them is within 5 % of the true one. Bucket 0 holds a second or less.
 */
export function timeBucket(ms: number): number {
  const seconds = ms / 1000;
  return seconds <= 1 ? 0 : Math.ceil(Math.log(seconds) / Math.log(1.1));
}

/** The middle of a bucket, in milliseconds. */
export function bucketMiddleMs(bucket: number): number {
  return bucket === 0 ? 1000 : Math.round(1000 * 1.1 ** (bucket - 0.5));
}

/** A write that goes with a record's marks, in the same statement (an update of the enrollment). */
type Alongside = OperationNodeSource & { execute(): Promise<unknown> };

/**
 * Counts an enrollment's marks, each once: those it reported before add nothing. One statement, so
 * a retried record (a local activity run again after a worker died) is safe. `alongside`, the
 * record's own write (where the enrollment waits, its end), runs in that statement too: a record
 * costs the journey one round trip to the database.
 */
export async function recordMarks(
  db: Db,
  enrollment: { id: string; journeyId: string; version: number },
  marks: readonly Mark[],
  alongside?: Alongside,
): Promise<void> {
  if (marks.length === 0) {
    await alongside?.execute();
    return;
  }
  const rows = sql.join(
    marks.map((m) => sql`(${m.mark}, ${m.metric}, ${m.key}, ${m.at.slice(0, 10)}::date)`),
    sql`, `,
  );
  await sql`
    with input (mark, metric, key, day) as (values ${rows}),${alongside ? sql` alongside as (${alongside}),` : sql``}
    fresh as (
      insert into journey_marks (enrollment_id, mark)
      select distinct ${enrollment.id}, mark from input order by 2
      on conflict do nothing
      returning mark
    )
    insert into journey_stats (journey_id, version, day, metric, key, count)
    select ${enrollment.journeyId}, ${enrollment.version}, i.day, i.metric, i.key, count(*)
    from (select distinct on (mark) * from input) i join fresh using (mark)
    group by i.day, i.metric, i.key
    -- Rows of counts are locked in one order by every writer, so concurrent records cannot deadlock.
    order by i.day, i.metric, i.key
    on conflict (journey_id, version, day, metric, key)
    do update set count = journey_stats.count + excluded.count
  `.execute(db);
}

/** The enrollment, step and channel of a journey's send key: `send:<enrollment>:<step>:<visit>:<channel>`. */
function sendKeyParts(sendKey: string): { enrollmentId: string; stepId: string; channel: string } | undefined {
  const m = /^send:([^:]+):([^:]+):\d+:(email|sms)$/.exec(sendKey);
  return m ? { enrollmentId: m[1]!, stepId: m[2]!, channel: m[3]! } : undefined;
}

/**
 * Counts marks of an enrollment from outside its journey (a provider's report, the API, the
 * reconciler), which knows the enrollment but not its journey and version; returns those, or
 * undefined for an enrollment that does not exist.
 */
async function markEnrollment(
  db: Db,
  enrollmentId: string,
  marks: Mark[],
): Promise<{ journeyId: string; version: number } | undefined> {
  const row = await db
    .selectFrom('enrollments')
    .select(['journey_id', 'version'])
    .where('id', '=', enrollmentId)
    .executeTakeFirst();
  if (!row) return undefined;
  const of = { journeyId: row.journey_id, version: row.version };
  await recordMarks(db, { id: enrollmentId, ...of }, marks);
  return of;
}

/**
 * Counts what happened to a message after it was sent (its final delivery status, a bounce reported
 * later, a click, an open, a spam complaint, or the unsubscribe or STOP it caused) for the journey
 * whose step sent it, each once per message. Returns the journey, version and step, when the message
 * was a journey's.
 */
export async function recordMessageOutcome(
  db: Db,
  sendKey: string,
  what: { kind: 'delivery'; status: string } | { kind: 'bounce' | 'click' | 'open' | 'complaint' | 'unsubscribe' },
  at: Date,
): Promise<{ journeyId: string; version: number; stepId: string } | undefined> {
  const parts = sendKeyParts(sendKey);
  if (!parts) return undefined;
  const { channel, stepId } = parts;
  const when = at.toISOString();
  const mark: Mark =
    what.kind === 'unsubscribe'
      ? { mark: `unsub:${sendKey}`, metric: 'unsubscribe', key: `${stepId}:${channel}`, at: when }
      : what.kind === 'delivery'
        ? { mark: `dlv:${sendKey}`, metric: 'message', key: `${channel}:${what.status}`, at: when }
        : {
            mark: `${what.kind}:${sendKey}`,
            metric: 'message',
            key: `${channel}:${{ bounce: 'bounced', click: 'clicked', open: 'opened', complaint: 'complained' }[what.kind]}`,
            at: when,
          };
  const of = await markEnrollment(db, parts.enrollmentId, [mark]);
  return of && { ...of, stepId };
}

/**
 * A task of a journey finished (completed, or given up on by the journey) after it was due: counted
 * as the step's `sla breached` in the report, once per enrollment and step.
 */
export async function recordSlaBreach(
  db: Db,
  task: { enrollment_id: string | null; step_id: string | null; due_at: Date | null },
  at: Date,
): Promise<void> {
  const { enrollment_id: enrollmentId, step_id: stepId, due_at: dueAt } = task;
  if (!dueAt || at <= dueAt || !enrollmentId || !stepId) return;
  await markEnrollment(db, enrollmentId, [
    { mark: `sla:${stepId}`, metric: 'outcome', key: `${stepId}:sla breached`, at: at.toISOString() },
  ]);
}

/**
 * An enrollment ended from outside its journey (cancelled, or found failed by the reconciler): its
 * end counted by status, as the journey counts its own.
 */
export async function recordEnded(db: Db, enrollmentId: string, status: string, at: Date): Promise<void> {
  await markEnrollment(db, enrollmentId, [{ mark: 'end', metric: 'ended', key: status, at: at.toISOString() }]);
}

export interface StatRow {
  version: number;
  metric: Metric;
  key: string;
  count: number;
}

/** A journey's counts, summed over the days of [since, until) (UTC dates), by version, figure and key. */
export async function readStats(
  db: Db,
  journeyId: string,
  range: { version?: number | undefined; since?: string | undefined; until?: string | undefined } = {},
): Promise<StatRow[]> {
  let q = db
    .selectFrom('journey_stats')
    .select(['version', 'metric', 'key', (eb) => eb.fn.sum<string>('count').as('n')])
    .where('journey_id', '=', journeyId);
  if (range.version !== undefined) q = q.where('version', '=', range.version);
  if (range.since) q = q.where('day', '>=', range.since);
  if (range.until) q = q.where('day', '<', range.until);
  const rows = await q.groupBy(['version', 'metric', 'key']).execute();
  return rows.map((r) => ({ version: r.version, metric: r.metric as Metric, key: r.key, count: Number(r.n) }));
}
