/** What every benchmark shares: the dev server, timing, percentiles, progress. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkerOptions, WorkflowBundle } from '@temporalio/worker';
import pino from 'pino';
import type { Db } from '../activities/db/database';
import { liquidChecker } from '../activities/render';
import { toPlan } from '../client/server/journeys/load';
import { parseConfig } from '../worker/config';
import { embeddedPostgresHome, startEmbeddedPostgres } from '../worker/embedded-postgres';
import { createRapport } from '../worker/rapport';
import { devServerEnv } from '../client/tools/testing/environment';
import { compileJourney } from '../definitions/compile';
import type { JourneyPlan } from '../definitions/schema/journey';

export interface Figure {
  benchmark: string;
  name: string;
  value: number;
  unit: string;
  /** How it was measured, in a few words. */
  note?: string;
}

export interface BenchContext {
  quick: boolean;
  /** Scales a count: the full figure, or a small one in quick mode. */
  n(full: number, quick: number): number;
  progress(text: string): void;
}

/** The Temporal dev server, as Rapport runs it on one machine (SQLite when a file is given). */
export const devServer = devServerEnv;

/** The embedded customer database as `npm start` runs it: PostgreSQL, a child process, in a scratch folder. */
export async function embeddedDatabase(): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const home = embeddedPostgresHome();
  if (!home) throw new Error('the embedded PostgreSQL binaries are not installed (npm install brings them)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bench-pg-'));
  const server = await startEmbeddedPostgres({
    home,
    dir: path.join(dir, 'postgres'),
    logger: pino({ level: 'silent' }),
  });
  return {
    url: server.url,
    pid: server.pid,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The processes running now, from /proc: id, parent, command line and CPU seconds so far. */
export function processes(): { pid: number; ppid: number; cmd: string; cpuSeconds: number }[] {
  const out: { pid: number; ppid: number; cmd: string; cpuSeconds: number }[] = [];
  const tick = 100; // USER_HZ on Linux
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command name: state, ppid, …; utime, stime, cutime, cstime are fields 11 to 14.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      // A PostgreSQL backend that ended is counted in its parent's children's time.
      const children = cmd.includes('postgres') ? Number(fields[13]) + Number(fields[14]) : 0;
      out.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        cmd,
        cpuSeconds: (Number(fields[11]) + Number(fields[12]) + children) / tick,
      });
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * CPU seconds used so far by this process, the embedded PostgreSQL and the Temporal server (each
 * found by its command line): the difference of two readings is where a phase's CPU went.
 */
export function cpuSeconds(): { rapport: number; postgres: number; temporal: number } {
  const out = { rapport: 0, postgres: 0, temporal: 0 };
  for (const p of processes()) {
    if (p.pid === process.pid) out.rapport += p.cpuSeconds;
    else if (p.cmd.includes('postgres')) out.postgres += p.cpuSeconds;
    else if (p.cmd.includes('temporal')) out.temporal += p.cpuSeconds;
  }
  return out;
}

/** Milliseconds of CPU per item between two readings, by process, as a note. */
export function cpuPerItem(
  before: ReturnType<typeof cpuSeconds>,
  after: ReturnType<typeof cpuSeconds>,
  items: number,
): string {
  const ms = (k: keyof typeof before) => round(((after[k] - before[k]) * 1000) / items, 1);
  return `CPU per event: Rapport ${ms('rapport')} ms, PostgreSQL ${ms('postgres')} ms, Temporal ${ms('temporal')} ms`;
}

/**
 * The memory of a process and its children (the embedded PostgreSQL's backends), in MiB: the sum of
 * their proportional set sizes, which counts memory they share once.
 */
export function treePssMiB(rootPid: number): number {
  const all = processes();
  const tree = new Set([rootPid]);
  for (let grown = true; grown;) {
    grown = false;
    for (const { pid, ppid } of all) {
      if (tree.has(ppid) && !tree.has(pid)) {
        tree.add(pid);
        grown = true;
      }
    }
  }
  let kib = 0;
  for (const pid of tree) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      kib += Number(m?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return Math.round((kib / 1024) * 10) / 10;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

export { pool } from '../client/server/events/pool';

export async function until(what: string, done: () => Promise<boolean>, timeoutMs: number, every = 100) {
  const end = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A journey given as YAML, compiled into the plan a workflow runs (no templates, no I/O). */
export function benchPlan(source: string, file: string): JourneyPlan {
  const compiled = compileJourney(source, file, { liquid: liquidChecker, readTemplate: () => undefined });
  if (!compiled.ok) throw new Error(compiled.problems.map((p) => p.message).join('; '));
  return toPlan(compiled.journey);
}

/**
 * A worker with Rapport's activities (email and SMS into an outbox folder) on `taskQueue`, built as
 * `rapport start` builds its own (worker/rapport.ts), running until `stop()`, which is safe to call
 * twice.
 */
export async function benchWorker(
  env: TestWorkflowEnvironment,
  options: {
    db: Db;
    taskQueue: string;
    outboxDir: string;
    workflowBundle: WorkflowBundle;
    worker?: Partial<WorkerOptions>;
  },
): Promise<{ stop(): Promise<void>; temporal: Client }> {
  const config = parseConfig({
    RAPPORT_DATA_DIR: path.dirname(options.outboxDir),
    TEMPORAL_NAMESPACE: env.namespace ?? 'default',
    TEMPORAL_TASK_QUEUE: options.taskQueue,
    MAIL_FROM: 'Bench <bench@rapport.test>',
  });
  const rapport = createRapport(
    config,
    { database: { db: options.db }, connection: env.connection, logger: pino({ level: 'silent' }) },
    { outboxDir: options.outboxDir },
  );
  const worker = await rapport.createWorker(env.nativeConnection, {
    workflowBundle: options.workflowBundle,
    ...options.worker,
  });
  const running = worker.run();
  return {
    /** Rapport's client: it reads the payloads the worker encrypted. */
    temporal: rapport.temporal,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      rapport.close();
    },
  };
}

/** Counts database queries and the time they take, by statement, between `reset()` and `take()`. */
export function queryStats() {
  let byStatement = new Map<string, { count: number; ms: number }>();
  return {
    onQuery: (sql: string, ms: number) => {
      const key = sql.replace(/\s+/g, ' ').slice(0, 120);
      const s = byStatement.get(key) ?? { count: 0, ms: 0 };
      s.count++;
      s.ms += ms;
      byStatement.set(key, s);
    },
    reset() {
      byStatement = new Map();
    },
    take() {
      const statements = [...byStatement].map(([sql, s]) => ({ sql, ...s })).sort((a, b) => b.ms - a.ms);
      return {
        count: statements.reduce((n, s) => n + s.count, 0),
        ms: statements.reduce((n, s) => n + s.ms, 0),
        statements,
      };
    },
  };
}
