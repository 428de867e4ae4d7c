/**
 * Rapport killed with -9, again and again, at each point where a crash could lose an event, send a
 * message twice or leave a customer stuck. One Temporal dev server, one PostgreSQL (durable, as in
 * production) and one SMTP server on loopback serve every point; Rapport runs as `rapport start` does,
 * in a process of its own (faults/rapport-process.ts) with one point armed. Each time it dies, it is
 * started again, as a supervisor (systemd, Kubernetes) would; the load goes on meanwhile, as the
 * systems that send events would (an event whose request failed is sent again, with the same id).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { sql } from 'kysely';
import { openDatabase, type OpenDatabase } from '../activities/db/database';
import { reconcile } from '../client/server/events/reconcile';
import { createDataProtection, dataConverterOf } from '../client/server/protection';
import { projectRoot } from '../paths';
import { freePort } from '../worker/child-process';
import { buildWorkflowBundle } from '../worker/bundle';
import { findBinary } from '../worker/temporal/binaries';
import { startDevServer, type DevServer } from '../worker/temporal/dev-server';
import { SEGMENT_RUN_WORKFLOW } from '../workflows/messages';
import { startPostgres } from '../test/helpers/postgres';
import { startSmtpSink, type SmtpSink } from '../test/helpers/smtp-sink';
import type { KillPoint } from './rapport-process';
import type { Row } from './row';

export type KillFault = KillPoint | 'import' | 'temporal';

/**
 * The points, each with what it does; `quick` ones run in CI's quick mode (the others wait out a
 * send's heartbeat timeout after each kill; the exactly-once test covers sends in CI).
 */
export const KILL_FAULTS: { name: `kill-${KillFault}`; point: KillFault; what: string; quick?: true }[] = [
  {
    name: 'kill-before-route',
    point: 'before-route',
    what: 'Rapport killed after accepting an event, before routing it',
  },
  {
    name: 'kill-after-start',
    point: 'after-start',
    what: 'Rapport killed after starting the journey, before recording the event as routed',
    quick: true,
  },
  { name: 'kill-in-flight', point: 'in-flight', what: 'Rapport killed in the middle of a send' },
  { name: 'kill-after-send', point: 'after-send', what: 'Rapport killed after a send, before recording its outcome' },
  { name: 'kill-task-created', point: 'task-created', what: 'Rapport killed as a task is created', quick: true },
  {
    name: 'kill-continue-as-new',
    point: 'continue-as-new',
    what: 'Rapport killed as a journey continues as new',
    quick: true,
  },
  { name: 'kill-segment-page', point: 'segment-page', what: 'Rapport killed between the pages of a scheduled run' },
  { name: 'kill-import', point: 'import', what: 'Rapport killed in the middle of an import', quick: true },
  {
    name: 'kill-temporal',
    point: 'temporal',
    what: 'the Temporal dev server killed with -9 during the load, started again 3 s later',
    quick: true,
  },
];

/** What one point's run found: the same counts as the other faults, with the kills and the point's own checks. */
export type KillRow = Row & { kills: number; problems: string[] };

const JOURNEYS: Record<string, string> = {
  'kill-send.yaml': `
journey: kill-send
name: Fault check, one send
category: transactional
trigger: { event: kill.send }
steps:
  - { id: receipt, type: send, channel: email, subject: "Receipt", text: "Thank you." }
`,
  'kill-task.yaml': `
journey: kill-task
name: Fault check, a task
category: service
trigger: { event: kill.task }
steps:
  - { id: call, type: task, team: support, title: "Call the customer" }
  - { id: told, type: send, channel: email, subject: "We will call", text: "Someone will call you." }
`,
  'kill-can.yaml': `
journey: kill-can
name: Fault check, continue-as-new
category: transactional
trigger: { event: kill.can }
steps:
  - { id: one, type: send, channel: email, subject: "One", text: "1" }
  - { id: pause, type: wait, duration: 1s }
  - { id: two, type: send, channel: email, subject: "Two", text: "2" }
  - { id: again, type: wait, duration: 1s }
  - { id: three, type: send, channel: email, subject: "Three", text: "3" }
`,
  'soak.yaml': `
journey: soak
name: Soak, a customer's weeks in two minutes
category: service
trigger: { event: soak.order }
steps:
  - { id: thanks, type: send, channel: email, subject: "Thanks", text: "Thank you." }
  - { id: settle, type: wait, duration: 20s }
  - id: call
    type: task
    team: soak
    title: Call the customer
    wait: { timeout: 1m }
  - { id: followup, type: send, channel: email, subject: "Follow-up", text: "How was it?" }
`,
  'kill-segment.yaml': `
journey: kill-segment
name: Fault check, scheduled run
category: transactional
trigger:
  schedule: "0 0 1 1 *"
  segment: 'has(customer.attributes.cohort) && customer.attributes.cohort == "kill-segment"'
steps:
  - { id: hello, type: send, channel: email, subject: "Segment", text: "Hello." }
`,
};

/** The messages a customer of each journey is sent, by send step: its subject. */
const SUBJECTS: Record<string, Record<string, string>> = {
  'kill-send': { receipt: 'Receipt' },
  'kill-task': { told: 'We will call' },
  'kill-can': { one: 'One', two: 'Two', three: 'Three' },
  'kill-segment': { hello: 'Segment' },
};

const JOURNEY_OF: Record<KillFault, string> = {
  'before-route': 'kill-send',
  'after-start': 'kill-send',
  'in-flight': 'kill-send',
  'after-send': 'kill-send',
  'task-created': 'kill-task',
  'continue-as-new': 'kill-can',
  'segment-page': 'kill-segment',
  import: '',
  temporal: 'kill-send',
};

export interface Supervised {
  kills: number;
  child: ChildProcess | undefined;
  stop(): Promise<void>;
  /** Rejects when Rapport exits without being killed. */
  failed: Promise<never>;
}

/** Runs Rapport, and starts it again each time it is killed, until stopped. */
export function supervise(env: NodeJS.ProcessEnv): Supervised {
  let stopping = false;
  let exited: Promise<string> = Promise.resolve('');
  const state: Supervised = {
    kills: 0,
    child: undefined,
    async stop() {
      stopping = true;
      // Killed at the end as well: what matters was recorded, and a stopped worker leaves nothing.
      state.child?.kill('SIGKILL');
      await exited;
    },
    failed: undefined as unknown as Promise<never>,
  };
  state.failed = (async (): Promise<never> => {
    for (;;) {
      const child = spawn(
        process.execPath,
        ['--require', 'tsx/cjs', path.join(projectRoot, 'faults/rapport-process.ts')],
        {
          cwd: projectRoot,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      state.child = child;
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      child.stderr.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
      exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
      const how = await exited;
      if (stopping) return new Promise<never>(() => undefined);
      if (how !== 'SIGKILL') throw new Error(`Rapport exited (${how}) without being killed:\n${output}`);
      state.kills += 1;
    }
  })();
  return state;
}

/** Waits for `done`, checking every 250 ms; fails with `what` after `limitMs` or when Rapport fails. */
async function until(what: string, done: () => Promise<boolean>, rapport: Supervised, limitMs = 600_000) {
  const deadline = Date.now() + limitMs;
  const check = (async () => {
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`gave up after ${limitMs / 1000} s waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  await Promise.race([check, rapport.failed]);
}

/** A request to Rapport's API, sent again while Rapport is down (refused, reset) or answers 503. */
export async function post(
  url: string,
  body: unknown,
  rapport: Supervised,
): Promise<{ status: number; json: unknown }> {
  for (let attempt = 0; ; attempt++) {
    const res = await Promise.race([
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
        async (r): Promise<{ status: number; json: unknown }> => ({
          status: r.status,
          json: await r.json().catch(() => null),
        }),
        () => undefined,
      ),
      rapport.failed,
    ]);
    if (res && res.status !== 503) return res;
    if (attempt > 3000) throw new Error(`no answer from ${url} in 10 minutes`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface Shared {
  /** Kills the Temporal dev server (SIGKILL) and starts it again on its files after `downMs`. */
  restartTemporal(downMs: number): Promise<void>;
  db: OpenDatabase['db'];
  temporal: Client;
  sink: SmtpSink;
  env: NodeJS.ProcessEnv;
  apiUrl: string;
  markers: string;
}

/** Starts the servers every point shares, runs `body`, and stops them. */
export async function withKillStack<T>(body: (shared: Shared) => Promise<T>): Promise<T> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-kill-'));
  // The dev server as `rapport start` runs it, on its SQLite files, so that it can be killed and
  // started again with what it had.
  const binary = findBinary('temporal');
  if (!binary) throw new Error('the temporal CLI is not installed: npx tsx scripts/temporal-binaries.ts install');
  const [temporalPort, uiPort] = [await freePort(), await freePort()];
  const startTemporal = () =>
    startDevServer({
      binary,
      dataDir: scratch,
      port: temporalPort,
      uiPort,
      namespace: 'default',
      logger: pino({ level: 'silent' }),
    });
  let temporalServer: DevServer = await startTemporal();
  const postgres = await startPostgres({ durable: true });
  const sink = await startSmtpSink();
  let database: OpenDatabase | undefined;
  let connection: Connection | undefined;
  try {
    const journeys = path.join(scratch, 'journeys');
    const markers = path.join(scratch, 'markers');
    fs.mkdirSync(journeys);
    fs.mkdirSync(markers);
    for (const [file, text] of Object.entries(JOURNEYS)) fs.writeFileSync(path.join(journeys, file), text);
    // Rapport's workflows with the two fault points inside workflow code (faults/interceptors.ts).
    const bundle = path.join(scratch, 'workflows.js');
    fs.writeFileSync(
      bundle,
      (await buildWorkflowBundle({ workflowInterceptorModules: [require.resolve('./interceptors')] })).code,
    );
    const master = randomBytes(32);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: temporalServer.address,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'faults-kill',
      DATABASE_URL: postgres.url,
      SMTP_URL: sink.url,
      MAIL_FROM: 'Rapport Faults <journeys@rapport.test>',
      RAPPORT_DATA_DIR: path.join(scratch, 'data'),
      RAPPORT_JOURNEYS_DIRS: journeys,
      RAPPORT_HOST: '127.0.0.1',
      RAPPORT_PORT: String(port),
      RAPPORT_PUBLIC_URL: 'https://rapport.test',
      RAPPORT_MASTER_KEY: master.toString('base64'),
      RAPPORT_ROLE: 'all',
      FAULTS_MARKERS: markers,
      FAULTS_BUNDLE: bundle,
    };
    database = await openDatabase({ url: postgres.url });
    const db = database.db;
    connection = await Connection.connect({ address: temporalServer.address });
    const temporal = new Client({
      connection,
      namespace: 'default',
      dataConverter: dataConverterOf(createDataProtection(db, master)),
    });
    const restartTemporal = async (downMs: number) => {
      process.kill(temporalServer.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, downMs));
      temporalServer = await startTemporal();
    };
    return await body({ restartTemporal, db, temporal, sink, env, apiUrl: `http://127.0.0.1:${port}`, markers });
  } finally {
    await database?.close();
    await sink.close();
    await postgres.stop();
    await connection?.close();
    await temporalServer.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** One point: `n` customers (or pages, or import rounds), Rapport killed at each, then the counts. */
export async function runKill(shared: Shared, point: KillFault, n: number): Promise<KillRow> {
  const started = performance.now();
  const { db, sink, apiUrl } = shared;
  const rapport = supervise({
    ...shared.env,
    ...(point === 'import' || point === 'temporal' ? {} : { FAULTS_KILL_AT: point }),
    ...(point === 'continue-as-new' ? { FAULTS_MAX_STEPS_PER_RUN: '2' } : {}),
  });
  const problems: string[] = [];
  const journey = JOURNEY_OF[point];
  const run = Date.now().toString(36);
  const address = (i: number) => `${point}-${run}-${i}@example.com`;
  let customers = n;
  let accepted = 0;
  try {
    if (point === 'import') {
      return await importRounds(shared, rapport, n, run, started);
    }
    const ids = async (count: number) =>
      (
        await db
          .selectFrom('customers')
          .select('id')
          .where(
            'email',
            'in',
            Array.from({ length: count }, (_, i) => address(i)),
          )
          .execute()
      ).map((c) => c.id);
    /** Every customer enrolled, and every enrollment ended. */
    const ended = (count: number) =>
      until(
        `${count} enrollments in ${journey} to end`,
        async () => {
          const known = await ids(count);
          if (known.length < count) return false;
          const rows = await db
            .selectFrom('enrollments')
            .select(['status'])
            .where('journey_id', '=', journey)
            .where('customer_id', 'in', known)
            .execute();
          return rows.length >= count && rows.every((r) => r.status !== 'active');
        },
        rapport,
      );
    if (point === 'segment-page') {
      // Pages of 5: n kills need n + 1 pages.
      customers = 5 * (n + 1);
      const rows = Array.from({ length: customers }, (_, i) => ({
        line: i + 1,
        fields: { email: address(i), cohort: 'kill-segment' },
      }));
      const res = await post(`${apiUrl}/v1/imports/customers`, { rows }, rapport);
      if (res.status !== 200)
        throw new Error(`import of the segment's customers: ${res.status} ${JSON.stringify(res.json)}`);
      // The run the journey's schedule starts, with pages of 5 instead of 500.
      const handle = await shared.temporal.workflow.start(SEGMENT_RUN_WORKFLOW, {
        taskQueue: 'faults-kill',
        workflowId: `segment-run:kill-segment:${run}`,
        args: [{ journeyId: 'kill-segment', pageSize: 5 }],
      });
      await Promise.race([handle.result(), rapport.failed]);
      await ended(customers);
    } else {
      // Events in waves: a kill at one customer's send can catch another's in the middle (recorded
      // ambiguous, as it should be) and spare it its own kill, so waves go on until the point was
      // reached n times.
      const type = { 'kill-send': 'kill.send', 'kill-task': 'kill.task', 'kill-can': 'kill.can' }[journey]!;
      customers = 0;
      if (point === 'temporal') {
        // The dev server killed a third of the way through, the events going on meanwhile.
        let outage: Promise<void> | undefined;
        for (let i = 0; i < n; i++) {
          if (i === Math.floor(n / 3)) outage = shared.restartTemporal(3_000);
          const res = await post(
            `${apiUrl}/v1/events`,
            { id: `${point}-${run}-${i}`, type, customer: { email: address(i) }, data: {} },
            rapport,
          );
          if (res.status !== 202) throw new Error(`event ${i}: ${res.status} ${JSON.stringify(res.json)}`);
          accepted += 1;
        }
        await outage;
        customers = n;
        await ended(customers);
      }
      for (let wave = 0; point !== 'temporal' && wave < 20 && rapport.kills < n; wave++) {
        const size = wave === 0 ? n : n - rapport.kills;
        for (let i = customers; i < customers + size; i++) {
          const res = await post(
            `${apiUrl}/v1/events`,
            { id: `${point}-${run}-${i}`, type, customer: { email: address(i) }, data: {} },
            rapport,
          );
          if (res.status !== 202) throw new Error(`event ${i}: ${res.status} ${JSON.stringify(res.json)}`);
          accepted += 1;
        }
        customers += size;
        await ended(customers);
      }
    }
    const emails = Array.from({ length: customers }, (_, i) => address(i));
    await rapport.stop();
    if (point !== 'temporal' && rapport.kills < n) problems.push(`killed ${rapport.kills} times of ${n}`);
    const known = await ids(customers);
    await reconcile({ db, temporal: shared.temporal, logger: pino({ level: 'silent' }) }, { minAgeMs: 0 });

    const events =
      point === 'segment-page'
        ? []
        : await db.selectFrom('events').select(['id', 'routed_at']).where('id', 'like', `${point}-${run}-%`).execute();
    const routed = events.filter((e) => e.routed_at).length;
    const enrollments = await db
      .selectFrom('enrollments')
      .select(['customer_id', 'status'])
      .where('journey_id', '=', journey)
      .where('customer_id', 'in', known)
      .execute();
    const perCustomer = new Map<string, number>();
    for (const e of enrollments) perCustomer.set(e.customer_id, (perCustomer.get(e.customer_id) ?? 0) + 1);
    const twice = [...perCustomer.values()].filter((k) => k > 1).length;
    if (twice > 0) problems.push(`${twice} customers enrolled twice`);
    if (perCustomer.size !== customers) problems.push(`${customers - perCustomer.size} customers never enrolled`);
    if (point === 'task-created') {
      const tasks = await db.selectFrom('tasks').select(['customer_id']).where('customer_id', 'in', known).execute();
      if (tasks.length !== customers) problems.push(`${tasks.length} tasks for ${customers} customers`);
    }
    const ledger = await db
      .selectFrom('send_ledger')
      .select(['customer_id', 'step_id', 'state'])
      .where('customer_id', 'in', known)
      .execute();
    // Ambiguity is a message's: each send recorded `unknown`, whether its customer got it or not.
    const unknown = ledger.filter((l) => l.state === 'unknown');
    const emailOf = new Map(
      (await db.selectFrom('customers').select(['id', 'email']).where('id', 'in', known).execute()).map((c) => [
        c.id,
        c.email ?? '',
      ]),
    );
    // What each address received, by subject.
    const received = new Map<string, number>();
    for (const m of sink.received) {
      const to = (Array.isArray(m.to) ? m.to[0] : m.to)?.value[0]?.address ?? '';
      const key = `${to}|${m.subject ?? ''}`;
      received.set(key, (received.get(key) ?? 0) + 1);
    }
    const subjects = SUBJECTS[journey]!;
    const pairs = emails.flatMap((e) => Object.values(subjects).map((s) => `${e}|${s}`));
    const delivered = pairs.filter((p) => (received.get(p) ?? 0) > 0).length;
    const duplicated = pairs.filter((p) => (received.get(p) ?? 0) > 1).length;
    const ambiguousDelivered = unknown.filter(
      (l) => (received.get(`${emailOf.get(l.customer_id)}|${subjects[l.step_id]}`) ?? 0) > 0,
    ).length;
    return {
      fault: `kill-${point}`,
      customers,
      kills: point === 'temporal' ? 1 : rapport.kills,
      accepted: point === 'segment-page' ? customers : accepted,
      routed: point === 'segment-page' ? perCustomer.size : routed,
      intended: pairs.length,
      delivered,
      duplicated,
      failed: ledger.filter((l) => l.state === 'failed_permanent' || l.state === 'failed_retryable').length,
      ambiguous: unknown.length,
      ambiguousDelivered,
      stuck: enrollments.filter((e) => e.status === 'active').length,
      unavailable: 0,
      problems,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await rapport.stop();
  }
}

/**
 * Imports of orders, each killed in the middle (once the request's transaction has written rows,
 * before it commits), then sent again whole, as `rapport import` run again would: the killed request
 * left all of its rows or none, and in the end every order is there once, none lost.
 */
async function importRounds(
  shared: Shared,
  rapport: Supervised,
  n: number,
  run: string,
  started: number,
): Promise<KillRow> {
  const { db, apiUrl } = shared;
  const size = 500;
  const problems: string[] = [];
  let midway = 0;
  let rounds = 0;
  let stored = 0;
  // Rapport up, its tables made, before the first import: a kill in its migration is not this fault.
  for (let attempt = 0; ; attempt++) {
    const up = await Promise.race([
      fetch(`${apiUrl}/health`).then(
        (r) => r.ok,
        () => false,
      ),
      rapport.failed,
    ]);
    if (up) break;
    if (attempt > 3000) throw new Error(`no answer from ${apiUrl}/health in 10 minutes`);
    await new Promise((r) => setTimeout(r, 200));
  }
  for (; midway < n && rounds < 3 * n; rounds++) {
    const prefix = `import-${run}-${rounds}-`;
    const rows = Array.from({ length: size }, (_, i) => ({
      line: i + 1,
      fields: {
        orderId: `${prefix}${i}`,
        email: `${prefix}${i % 100}@example.com`,
        occurredAt: '2026-11-30',
        total: 10 + i,
      },
    }));
    const count = async () =>
      Number(
        (await sql<{ n: string }>`select count(*) as n from orders where id like ${`${prefix}%`}`.execute(db)).rows[0]
          ?.n ?? 0,
      );
    /**
     * Whether the import's transaction is open and has written (a transaction id, and its last
     * statement on orders or identities): its rows are not visible to count() until it commits.
     */
    const writing = async () =>
      Number(
        (
          await sql<{ n: string }>`select count(*) as n from pg_stat_activity
            where pid <> pg_backend_pid() and backend_xid is not null
              and (query like '%"orders"%' or query like '%"identities"%')`.execute(db)
        ).rows[0]?.n ?? 0,
      ) > 0;
    const first = post(`${apiUrl}/v1/imports/orders`, { rows }, rapport);
    let answered = false;
    void first.then(() => (answered = true));
    // Killed once the rows are being written and before the answer.
    for (;;) {
      if (answered) break;
      if (await writing()) {
        rapport.child?.kill('SIGKILL');
        midway += 1;
        // The request is one transaction: it committed before the kill, or left nothing.
        await new Promise<void>((resolve) => rapport.child?.once('exit', () => resolve()) ?? resolve());
        const left = await count();
        if (left !== 0 && left !== size)
          problems.push(`round ${rounds}: the killed import left ${left} of ${size} rows`);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // The request killed with Rapport is sent again (post() waits for Rapport back); once answered,
    // the whole file once more, which must change nothing.
    const again = await first;
    if (again.status !== 200) problems.push(`round ${rounds}: import answered ${again.status}`);
    const last = await post(`${apiUrl}/v1/imports/orders`, { rows }, rapport);
    const report = last.json as { imported: number; unchanged: number; errors: unknown[] };
    if (report.imported !== 0 || report.unchanged !== size) {
      problems.push(`round ${rounds}: importing again changed ${report.imported} rows`);
    }
    const k = await count();
    if (k !== size) problems.push(`round ${rounds}: ${k} orders for ${size} rows`);
    stored += k;
  }
  if (midway < n) problems.push(`killed in the middle of ${midway} imports of ${n}`);
  await rapport.stop();
  return {
    fault: 'kill-import',
    customers: rounds * 100,
    kills: rapport.kills,
    accepted: rounds * size,
    routed: stored,
    intended: 0,
    delivered: 0,
    duplicated: 0,
    failed: 0,
    ambiguous: 0,
    ambiguousDelivered: 0,
    stuck: 0,
    unavailable: 0,
    problems,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
