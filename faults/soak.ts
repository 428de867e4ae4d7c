/**
 * `npm run soak -- --minutes 30`: a steady load on Rapport as `rapport start` runs it (in a process of
 * its own, on the Temporal dev server, PostgreSQL and an SMTP server on loopback), for as long as
 * asked: events at `--rate` a second (default 58, 70 % of the 83 a second the event-path benchmark
 * routes). One in `--enroll-every` (default 15) is a new customer's order, which enrolls them in a
 * journey that sends, waits, makes a task (four in five completed through the API, eight at a time,
 * the rest left to time out) and sends again; the others are visits by customers already known,
 * which are accepted, routed and kept on the timeline. About 3.9 journeys a second: every event a
 * new journey (the default until now) is more than this journey's steps can run on two cores beside
 * Temporal, whose backlog then grows without end (faults/README.md, Soak). Each minute it reports
 * Rapport's RSS, the p50 and p99 of accepting an event, errors, the events not yet routed, tasks
 * completed, journeys ended and running; at the end, once every journey has ended, the reconciler's
 * pass and what is stuck.
 *
 * Goals (printed as met or not): RSS growth under 50 MiB after the first minutes (warm-up), a flat
 * p99 (the last minute's within twice the first's after warm-up), no growing queue (the events not
 * yet routed, likewise), 0 errors, 0 stuck. Writes faults/results/soak.json. Exit 1 on errors or
 * anything stuck.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { sql } from 'kysely';
import { pool } from '../client/server/events/pool';
import { reconcile } from '../client/server/events/reconcile';
import { projectRoot } from '../paths';
import { post, supervise, withKillStack } from './kill';

interface Minute {
  minute: number;
  sent: number;
  errors: number;
  p50: number;
  p99: number;
  rssMiB: number;
  /** Of the RSS: the JavaScript heap in use, and memory outside it held by JavaScript objects (buffers). */
  heapMiB: number;
  externalMiB: number;
  notRouted: number;
  tasksCompleted: number;
  /** Journeys that ended this minute, and those still running at its end. */
  ended: number;
  active: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number`);
  return v;
}

const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** The Rapport process's own account of its memory (faults/rapport-process.ts, FAULTS_MEMORY_FILE). */
function memory(file: string): { heapUsed: number; external: number } {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as { heapUsed: number; external: number };
  } catch {
    return { heapUsed: 0, external: 0 };
  }
}

async function main(): Promise<void> {
  const minutes = arg('minutes', 30);
  const rate = arg('rate', 58);
  const enrollEvery = Math.round(arg('enroll-every', 15));
  const warmup = Math.min(2, Math.floor(minutes / 3));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const rows = await withKillStack(async (shared) => {
    const memoryFile = path.join(shared.markers, 'memory.json');
    const rapport = supervise({ ...shared.env, FAULTS_MEMORY_FILE: memoryFile });
    const minuteRows: Minute[] = [];
    try {
      const run = Date.now().toString(36);
      let n = 0;
      let current = { sent: 0, errors: 0, latencies: [] as number[], tasksCompleted: 0 };
      const errors: string[] = [];
      // The soak journey's enrollments: running, and ended (any other status).
      const enrollments = async () => {
        const { rows } = await sql<{ active: string; ended: string }>`
          select count(*) filter (where status = 'active') as active, count(*) filter (where status <> 'active') as ended
          from enrollments where journey_id = 'soak'`.execute(shared.db);
        return { active: Number(rows[0]?.active ?? 0), ended: Number(rows[0]?.ended ?? 0) };
      };
      // The soak team's open tasks, and completing them eight at a time, as a team of people would.
      const openTasks = async () => {
        const res = await fetch(`${shared.apiUrl}/v1/tasks?team=soak`).catch(() => undefined);
        const body = (await res?.json().catch(() => undefined)) as { tasks?: { id: string }[] } | undefined;
        return (body?.tasks ?? []).map((t) => t.id);
      };
      const complete = (ids: string[]) =>
        pool(ids, 8, async (id) => {
          const done = await post(`${shared.apiUrl}/v1/tasks/${id}/complete`, { outcome: 'called' }, rapport);
          if (done.status === 200) current.tasksCompleted += 1;
        });
      let customersSoFar = 0;
      let visits = 0;
      const send = async () => {
        const i = n++;
        // One event in `enrollEvery` is a new customer's order, which enrolls them in the journey; the
        // rest are visits by customers already known, which the router records and matches to no journey.
        const order = i % enrollEvery === 0 || customersSoFar === 0;
        const customer = order ? customersSoFar++ : Math.floor(Math.random() * customersSoFar);
        if (!order) visits += 1;
        const t = performance.now();
        try {
          const res = await fetch(`${shared.apiUrl}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              id: `soak-${run}-${i}`,
              type: order ? 'soak.order' : 'soak.visit',
              customer: { email: `soak-${run}-${customer}@example.com` },
              data: order ? {} : { page: `/products/${i % 97}` },
            }),
          });
          await res.arrayBuffer();
          current.latencies.push(performance.now() - t);
          current.sent += 1;
          if (res.status !== 202) {
            current.errors += 1;
            if (errors.length < 20) errors.push(`event ${i}: ${res.status}`);
          }
        } catch (err) {
          current.errors += 1;
          if (errors.length < 20) errors.push(`event ${i}: ${(err as Error).message}`);
        }
      };
      // Four in five open tasks completed, every 2 s, as a team working its queue would.
      let completing = true;
      const completer = (async () => {
        const seen = new Set<string>();
        while (completing) {
          const toComplete: string[] = [];
          for (const id of await openTasks()) {
            if (seen.has(id)) continue;
            seen.add(id);
            if (seen.size % 5 !== 0) toComplete.push(id);
          }
          await complete(toComplete);
          await new Promise((r) => setTimeout(r, 2000));
        }
      })();
      // The load starts once Rapport answers.
      for (let tries = 0; ; tries++) {
        const health = await fetch(`${shared.apiUrl}/health`).catch(() => undefined);
        if (health?.ok) break;
        if (tries > 600) throw new Error('Rapport did not answer /health within two minutes');
        await new Promise((r) => setTimeout(r, 200));
      }
      const started = performance.now();
      const inFlight = new Set<Promise<void>>();
      let ended = 0;
      for (let minute = 1; minute <= minutes; minute++) {
        current = { sent: 0, errors: 0, latencies: [], tasksCompleted: 0 };
        const minuteStart = started + (minute - 1) * 60_000;
        // Paced: event k of the minute leaves at k / rate seconds into it.
        for (let k = 0; k < rate * 60; k++) {
          const due = minuteStart + (k / rate) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const p = send().finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        await Promise.all([...inFlight]);
        const sorted = [...current.latencies].sort((a, b) => a - b);
        const notRouted = Number(
          (await sql<{ n: string }>`select count(*) as n from events where routed_at is null`.execute(shared.db))
            .rows[0]?.n ?? 0,
        );
        const now = await enrollments();
        const mem = memory(memoryFile);
        const row: Minute = {
          minute,
          sent: current.sent,
          errors: current.errors,
          p50: Math.round(quantile(sorted, 0.5)),
          p99: Math.round(quantile(sorted, 0.99)),
          rssMiB: rssMiB(rapport.child?.pid),
          heapMiB: mib(mem.heapUsed),
          externalMiB: mib(mem.external),
          notRouted,
          tasksCompleted: current.tasksCompleted,
          ended: now.ended - ended,
          active: now.active,
        };
        ended = now.ended;
        minuteRows.push(row);
        say(
          `minute ${minute}/${minutes}: ${row.sent} events, ${row.errors} errors, accept p50 ${row.p50} ms p99 ${row.p99} ms, RSS ${row.rssMiB} MiB (heap ${row.heapMiB}, external ${row.externalMiB}), ${row.notRouted} not routed yet, ${row.tasksCompleted} tasks completed, ${row.ended} journeys ended, ${row.active} running`,
        );
      }
      completing = false;
      await completer;
      // Every journey to its end (the last ones wait 20 s, then a task for up to a minute).
      say('load stopped; waiting for every journey to end');
      const deadline = Date.now() + 10 * 60_000;
      while (Date.now() < deadline) {
        if ((await enrollments()).active === 0) break;
        // Open tasks left: completed now, so their journeys end.
        await complete(await openTasks());
        await new Promise((r) => setTimeout(r, 2000));
      }
      const report = await reconcile(
        { db: shared.db, temporal: shared.temporal, logger: pino({ level: 'silent' }) },
        { minAgeMs: 0 },
      );
      const stuck = (await enrollments()).active;
      return { minuteRows, errors, report, stuck, customers: customersSoFar, events: n, visits };
    } finally {
      await rapport.stop();
    }
  });
  const { minuteRows, errors, report, stuck, customers, events, visits } = rows;
  const after = minuteRows.slice(warmup);
  const growth = after.length > 0 ? after.at(-1)!.rssMiB - after[0]!.rssMiB : 0;
  const p99First = after[0]?.p99 ?? 0;
  const p99Last = after.at(-1)?.p99 ?? 0;
  const totalErrors = minuteRows.reduce((a, r) => a + r.errors, 0);
  const goals = {
    rssGrowthMiB: { value: Math.round(growth * 10) / 10, met: growth < 50 },
    p99Flat: { first: p99First, last: p99Last, met: p99Last <= 2 * Math.max(p99First, 1) },
    // Flat as p99 is: the last minute's unrouted events within twice the first's after warm-up (or
    // under ten seconds of events).
    backlog: {
      first: after[0]?.notRouted ?? 0,
      last: after.at(-1)?.notRouted ?? 0,
      met: (after.at(-1)?.notRouted ?? 0) <= Math.max(2 * (after[0]?.notRouted ?? 0), rate * 10),
    },
    errors: { value: totalErrors, met: totalErrors === 0 },
    stuck: { value: stuck, met: stuck === 0 },
  };
  process.stdout.write(
    [
      'minute  events  errors  p50 ms  p99 ms  RSS MiB  heap MiB  external MiB  not routed  tasks completed  journeys ended  running',
      ...minuteRows.map((r) =>
        [
          r.minute,
          r.sent,
          r.errors,
          r.p50,
          r.p99,
          r.rssMiB,
          r.heapMiB,
          r.externalMiB,
          r.notRouted,
          r.tasksCompleted,
          r.ended,
          r.active,
        ]
          .map((v, i) => String(v).padStart([6, 6, 6, 6, 6, 7, 8, 12, 10, 15, 14, 7][i]!))
          .join('  '),
      ),
      `${events} events: ${customers} new customers' orders (each enrolled), ${visits} visits; reconciliation: ${report.checked} checked, ${report.failed.length} failed, ${report.claimsClosed} claims closed, ${report.parkedEvents} parked`,
      `RSS growth after the first ${warmup} minute(s): ${goals.rssGrowthMiB.value} MiB (goal < 50: ${goals.rssGrowthMiB.met ? 'met' : 'not met'})`,
      `p99 after warm-up, first and last minute: ${p99First} / ${p99Last} ms (flat: ${goals.p99Flat.met ? 'met' : 'not met'})`,
      `events not routed after warm-up, first and last minute: ${goals.backlog.first} / ${goals.backlog.last} (no growing queue: ${goals.backlog.met ? 'met' : 'not met'})`,
      `errors: ${totalErrors}${errors.length ? ` (${errors.slice(0, 5).join('; ')})` : ''}; stuck: ${stuck}`,
    ].join('\n') + '\n',
  );
  const dir = path.join(projectRoot, 'faults', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'soak.json'),
    JSON.stringify(
      { at: new Date().toISOString(), minutes, rate, enrollEvery, minuteRows, goals, reconciliation: report },
      null,
      2,
    ),
  );
  process.exit(goals.errors.met && goals.stuck.met ? 0 : 1);
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
