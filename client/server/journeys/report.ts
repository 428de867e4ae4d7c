/**
 * The journey report: how many entered, reached each step and took each way out, the messages by
 * channel and status, the goal (count, rate, median time to it), the ends and exits, and each
 * split's paths compared. Read from the counts enrollments keep as they go
 * (activities/store/journey-stats.ts), so its cost does not grow with the number of enrollments.
 */
import type { Db } from '../../../activities/db/database';
import { bucketMiddleMs, readStats, type StatRow } from '../../../activities/store/journey-stats';
import type { JourneyDefinition } from '../../../definitions/schema/journey';
import { armsOf, stepLabel, walk } from '../../../definitions/steps';
import { type Comparison, compare, wilson } from './experiments';

export interface ReportQuery {
  version?: number | undefined;
  /** First day counted (UTC, YYYY-MM-DD), inclusive. */
  since?: string | undefined;
  /** Day after the last counted (UTC, YYYY-MM-DD), exclusive. */
  until?: string | undefined;
}

interface StepReport {
  id: string;
  type: string;
  label: string;
  /** How deep it is nested in branches, splits and waits (0 at the top). */
  depth: number;
  /** Enrollments that reached it (each once, however often they came back). */
  reached: number;
  /** Enrollments by way out or result: `case 1`, `otherwise`, `path b`, `event`, `timeout`, `sent`… */
  outcomes: { outcome: string; count: number }[];
}

interface PathReport {
  path: string;
  /** A path without steps: its customers get nothing from the split, and their goal is still counted. */
  holdout: boolean;
  entered: number;
  goalMet: number;
  rate: number;
  /** The goal rate's 95 % interval (Wilson). */
  interval: [number, number];
}

interface PathComparison extends Comparison {
  path: string;
  /** The path compared against: the split's holdout, or else its first path. */
  against: string;
  /** The significance level used: 0.05, divided among the comparisons when a split has more than two paths. */
  alpha: number;
  /** In words, never naming a winner before it is one. */
  verdict: string;
}

export interface JourneyReport {
  journey: string;
  /** The version reported, or null for all versions together. */
  version: number | null;
  since: string | null;
  until: string | null;
  entered: number;
  steps: StepReport[];
  messages: { channel: string; status: string; heldBy: string | null; count: number }[];
  goal: {
    event: string;
    met: number;
    /** Of those who entered. */
    rate: number;
    interval: [number, number];
    /** Median time from entering to the goal, to within 5 %; null before a goal is met. */
    medianMs: number | null;
  } | null;
  /** Ended enrollments by outcome: completed, goal, exited, failed. */
  ended: Record<string, number>;
  /** Enrollments that left early, by reason (an exit step's, or the exit event). */
  exits: { reason: string; count: number }[];
  /** Unsubscribes and STOPs by the step whose message caused them. */
  unsubscribes: { step: string; channel: string; count: number }[];
  experiments: { split: string; paths: PathReport[]; comparisons: PathComparison[] }[];
  /** What a reader should know to read the figures right (opens inflated by privacy proxies, …). */
  notes: string[];
  /**
   * Those who got the journey's sends against those held out (the journey's `holdout:` and the
   * global holdout together): the goal rate of each, and the lift. Null when nobody was held out and
   * the journey has no holdout.
   */
  holdout: {
    share: string | null;
    treated: GroupReport;
    heldOut: GroupReport & { byJourney: number; byGlobal: number };
    lift: Comparison & { verdict: string };
  } | null;
}

interface GroupReport {
  entered: number;
  goalMet: number;
  rate: number;
  interval: [number, number];
}

function group(entered: number, met: number): GroupReport {
  const goalMet = Math.min(entered, met);
  return { entered, goalMet, rate: entered > 0 ? goalMet / entered : 0, interval: wilson(goalMet, entered) };
}

function sum(rows: StatRow[], metric: StatRow['metric'], key?: string): number {
  return rows
    .filter((r) => r.metric === metric && (key === undefined || r.key === key))
    .reduce((n, r) => n + r.count, 0);
}

/** Counts of one figure by key, summed over versions. */
function byKey(rows: StatRow[], metric: StatRow['metric']): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) if (r.metric === metric) out.set(r.key, (out.get(r.key) ?? 0) + r.count);
  return out;
}

/** Splits `step:rest` at the first colon (step ids have none). */
function stepAndRest(key: string): [string, string] {
  const i = key.indexOf(':');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}

function median(buckets: Map<string, number>): number | null {
  const sorted = [...buckets].map(([b, n]) => [Number(b), n] as const).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  if (total === 0) return null;
  let seen = 0;
  for (const [bucket, n] of sorted) {
    seen += n;
    if (seen * 2 >= total) return bucketMiddleMs(bucket);
  }
  return null;
}

function verdict(c: Comparison, path: string, against: string): string {
  if (c.neededPerSide === null) return `no difference between ${path} and ${against} so far`;
  const pct = (v: number) => `${(v * 100).toFixed(1)} points`;
  if (c.significant) {
    return `${path} ${c.difference > 0 ? 'beats' : 'trails'} ${against} by ${pct(Math.abs(c.difference))} (p = ${c.pValue!.toPrecision(2)})`;
  }
  return `not yet significant: a difference of ${pct(Math.abs(c.difference))} needs about ${c.neededPerSide.toLocaleString('en')} customers on each path`;
}

/**
 * Builds the report from the journey's counts and its definition (the version asked for, or the
 * newest): the definition gives the steps' order, kinds and split paths.
 */
export function buildReport(def: JourneyDefinition, rows: StatRow[], query: ReportQuery): JourneyReport {
  const reached = byKey(rows, 'step');
  const outcomes = byKey(rows, 'outcome');
  const outcomesOf = new Map<string, { outcome: string; count: number }[]>();
  for (const [key, count] of outcomes) {
    const [step, outcome] = stepAndRest(key);
    outcomesOf.set(step, [...(outcomesOf.get(step) ?? []), { outcome, count }]);
  }
  const steps: StepReport[] = [];
  const depths = new Map<string, number>();
  walk(def.steps, ['steps'], (step, _path, within) => {
    const depth = within ? (depths.get(within.parent.id) ?? 0) + 1 : 0;
    depths.set(step.id, depth);
    const order = armsOf(step).map((a) => a.name);
    const rank = (o: string) => (order.includes(o) ? order.indexOf(o) : order.length);
    steps.push({
      id: step.id,
      type: step.type,
      label: stepLabel(step),
      depth,
      reached: reached.get(step.id) ?? 0,
      outcomes: (outcomesOf.get(step.id) ?? []).sort((a, b) => rank(a.outcome) - rank(b.outcome) || b.count - a.count),
    });
  });

  const entered = sum(rows, 'entered');
  const met = sum(rows, 'goal');
  const goalPaths = byKey(rows, 'goal_path');
  const experiments: JourneyReport['experiments'] = [];
  walk(def.steps, ['steps'], (step) => {
    if (step.type !== 'split') return;
    const paths: PathReport[] = step.paths.map((p) => {
      const n = outcomes.get(`${step.id}:path ${p.name}`) ?? 0;
      // Goals count on the day of entry, paths on the day of the split: at a range's edge a few goals
      // may lack their path in it.
      const goals = Math.min(n, goalPaths.get(`${step.id}:${p.name}`) ?? 0);
      return {
        path: p.name,
        holdout: (p.steps ?? []).length === 0,
        entered: n,
        goalMet: goals,
        rate: n > 0 ? goals / n : 0,
        interval: wilson(goals, n),
      };
    });
    const base = paths.find((p) => p.holdout) ?? paths[0]!;
    const others = paths.filter((p) => p !== base);
    const alpha = 0.05 / others.length;
    experiments.push({
      split: step.id,
      paths,
      comparisons: others.map((p) => {
        const c = compare({ goals: p.goalMet, n: p.entered }, { goals: base.goalMet, n: base.entered }, alpha);
        return { path: p.path, against: base.path, alpha, ...c, verdict: verdict(c, p.path, base.path) };
      }),
    });
  });

  const groups = byKey(rows, 'group');
  const goalGroups = byKey(rows, 'goal_group');
  const heldOut = (m: Map<string, number>) => (m.get('holdout') ?? 0) + (m.get('global') ?? 0);
  let holdout: JourneyReport['holdout'] = null;
  if (def.holdout || heldOut(groups) > 0) {
    const treated = group(groups.get('treated') ?? 0, goalGroups.get('treated') ?? 0);
    const out = group(heldOut(groups), heldOut(goalGroups));
    const lift = compare({ goals: treated.goalMet, n: treated.entered }, { goals: out.goalMet, n: out.entered });
    holdout = {
      share: def.holdout ?? null,
      treated,
      heldOut: { ...out, byJourney: groups.get('holdout') ?? 0, byGlobal: groups.get('global') ?? 0 },
      lift: { ...lift, verdict: verdict(lift, 'treated', 'held out') },
    };
  }

  const messages = [...byKey(rows, 'message')]
    .map(([key, count]) => {
      const [channel = '', status = '', heldBy] = key.split(':');
      return { channel, status, heldBy: heldBy ?? null, count };
    })
    .sort((a, b) => a.channel.localeCompare(b.channel) || b.count - a.count);
  const notes = messages.some((m) => m.status === 'opened')
    ? [
        'Opens overstate readers: mail privacy proxies (Apple Mail Privacy Protection) and some filters load every image of every message. Read opens as an upper bound; count on clicks and the goal.',
      ]
    : [];

  return {
    journey: def.journey,
    version: query.version ?? null,
    since: query.since ?? null,
    until: query.until ?? null,
    entered,
    steps,
    messages,
    goal: def.goal
      ? {
          event: def.goal.event,
          met,
          rate: entered > 0 ? met / entered : 0,
          interval: wilson(met, entered),
          medianMs: median(byKey(rows, 'goal_time')),
        }
      : null,
    ended: Object.fromEntries(byKey(rows, 'ended')),
    exits: [...byKey(rows, 'exit')].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    unsubscribes: [...byKey(rows, 'unsubscribe')].map(([key, count]) => {
      const [step, channel] = stepAndRest(key);
      return { step, channel, count };
    }),
    experiments,
    notes,
    holdout,
  };
}

/** The report of a journey, from the database. */
export async function journeyReport(db: Db, def: JourneyDefinition, query: ReportQuery): Promise<JourneyReport> {
  return buildReport(def, await readStats(db, def.journey, query), query);
}
