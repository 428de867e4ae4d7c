/**
 * Exactly-once sends under worker crashes. A worker in its own process is killed (SIGKILL) at each
 * point of a send, between claiming the key in the ledger and recording the outcome; another worker
 * takes over and the journey runs to its end. The SMTP server counts what arrived: nothing twice,
 * nothing missing, except in the one window no protocol can close (between marking the send in
 * flight and recording its outcome), where the send is detected and reported as unknown, not resent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import type { SendPoint } from '../../activities/messaging';
import { EventIntake } from '../../client/server/events/intake';
import { createDataProtection, dataConverterOf } from '../../client/server/protection';
import { publishFolders } from '../../client/server/journeys/publish';
import { projectRoot } from '../../paths';
import { completeTask } from '../../activities/store/tasks';
import type { JourneyResult } from '../../workflows/types';
import { eventually } from '../helpers/eventually';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { devServerEnv, workflowBundle } from '../helpers/temporal';
import { journeyStateQuery, taskCompletedSignal } from '../../workflows/messages';

let env: TestWorkflowEnvironment;
let postgres: Postgres;
let smtp: SmtpSink;
let database: OpenDatabase;
let scratch: string;
let bundlePath: string;
/** The workers' and this test's master key, and this test's client with Rapport's codec. */
const master = randomBytes(32);
let client: Client;
/**
 * Each test has a task queue of its own, its own intake and its own workers: the tests run side by
 * side (most of each is a dead worker's heartbeat timing out, in real time), and a worker of one
 * never takes another's journey.
 */
function intakeFor(taskQueue: string): EventIntake {
  return new EventIntake({ db: database.db, temporal: client, taskQueue, logger: pino({ level: 'silent' }) });
}
const workers: ChildProcess[] = [];

// On the real dev server: a dead worker's activity times out by its heartbeat in real time, which
// the time-skipping server cannot advance while it counts the activity as running.
const journey = `
journey: crash-check
name: Crash check
category: transactional
trigger: { event: crash.check }
steps:
  - id: first
    type: send
    channel: email
    subject: "First"
    text: "one"
  - id: pause
    type: wait
    duration: 2s
  - id: second
    type: send
    channel: email
    subject: "Second"
    text: "two"
`;

// A task the journey waits a day for; done at once, it is thanked for, not apologised for.
const callback = `
journey: callback
name: Call back
category: service
trigger: { event: callback.requested }
steps:
  - id: call
    type: task
    team: support
    title: Call the customer back
    wait:
      timeout: 1d
      on_timeout:
        - id: sorry
          type: send
          channel: email
          subject: "Sorry we missed you"
          text: "We could not reach you."
  - id: thanks
    type: send
    channel: email
    subject: "Thanks for talking to us"
    text: "Glad we spoke."
`;

beforeAll(async () => {
  env = await devServerEnv();
  postgres = await startPostgres();
  smtp = await startSmtpSink();
  database = await openDatabase({ url: postgres.url });
  await migrate(database.db);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-crash-'));
  fs.mkdirSync(path.join(scratch, 'journeys'));
  fs.writeFileSync(path.join(scratch, 'journeys', 'crash-check.yaml'), journey);
  fs.writeFileSync(path.join(scratch, 'journeys', 'callback.yaml'), callback);
  await publishFolders(
    database.db,
    [path.join(scratch, 'journeys')],
    path.join(projectRoot, 'definitions', 'templates'),
  );
  client = new Client({
    connection: env.connection,
    namespace: env.namespace ?? 'default',
    dataConverter: dataConverterOf(createDataProtection(database.db, master)),
  });
  bundlePath = path.join(scratch, 'workflows.js');
  fs.writeFileSync(bundlePath, (await workflowBundle()).code);
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await database?.close();
  await smtp?.close();
  await postgres?.stop();
  await env?.teardown();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function startWorker(taskQueue: string, crashAt?: SendPoint | 'after-task-created') {
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join(projectRoot, 'test/fixtures/workers/crash-worker.ts')],
    {
      cwd: projectRoot,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_NAMESPACE: env.namespace ?? 'default',
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: postgres.url,
        MAIL_FROM: 'Rapport Test <journeys@rapport.test>',
        SMTP_URL: smtp.url,
        RAPPORT_PUBLIC_URL: 'https://rapport.test',
        WORKFLOW_BUNDLE: bundlePath,
        CRASH_DIR: scratch,
        RAPPORT_MASTER_KEY: master.toString('base64'),
        ...(crashAt ? { CRASH_AT: crashAt } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  workers.push(child);
  let output = '';
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
      if (output.includes('ready')) resolve();
    });
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    void exited.then(() => reject(new Error(`the worker exited before it was ready: ${output}`)));
  });
  return { child, exited, ready };
}

/** The messages the SMTP server received for one address. */
const receivedBy = (address: string) =>
  smtp.received.filter((m) =>
    (Array.isArray(m.to) ? m.to : [m.to]).some((a) => a?.value.some((v) => v.address === address)),
  );

const counts = (ids: string[]) => ids.reduce<Record<string, number>>((m, id) => ({ ...m, [id]: (m[id] ?? 0) + 1 }), {});

test.concurrent.each<[SendPoint, number, string]>([
  ['after-claim', 1, 'sent'],
  ['in-flight', 0, 'unknown'],
  ['after-send', 1, 'unknown'],
  ['after-record', 1, 'sent'],
])(
  'killed %s: the first email arrives %i time(s), its ledger state is %s; the second arrives once',
  async (point, firstCount, firstState) => {
    const taskQueue = `crash-${point}`;
    const address = `crash-${point}@example.com`;
    const { receipt } = await intakeFor(taskQueue).accept({
      id: `crash-${point}`,
      type: 'crash.check',
      customer: { email: address },
      data: {},
    });
    const crashing = startWorker(taskQueue, point);
    await crashing.ready;
    expect(await crashing.exited).toBe('SIGKILL');

    const healthy = startWorker(taskQueue);
    await healthy.ready;
    const result = (await client.workflow.getHandle(receipt.enrolled[0]!.workflowId).result()) as JourneyResult;
    healthy.child.kill('SIGKILL');
    await healthy.exited;

    expect(result.outcome).toBe('completed');
    const arrived = receivedBy(address);
    const bySubject = counts(arrived.map((m) => m.subject ?? ''));
    expect(bySubject.First ?? 0).toBe(firstCount);
    expect(bySubject.Second).toBe(1);
    // Nothing twice: one Message-ID per send key.
    expect(Object.values(counts(arrived.map((m) => m.messageId ?? ''))).every((n) => n === 1)).toBe(true);

    const ledger = await database.db
      .selectFrom('send_ledger')
      .select(['step_id', 'state'])
      .where('customer_id', '=', receipt.customerId)
      .orderBy('step_id')
      .execute();
    expect(ledger).toEqual([
      { step_id: 'first', state: firstState },
      { step_id: 'second', state: 'sent' },
    ]);
    if (firstState === 'unknown') {
      // Detected and reported: on the timeline and in the journey's history.
      const timeline = await database.db
        .selectFrom('timeline')
        .select('summary')
        .where('customer_id', '=', receipt.customerId)
        .execute();
      expect(timeline.map((t) => t.summary)).toContain('email outcome unknown');
      expect(result.history[0]).toMatchObject({
        stepId: 'first',
        outcome: 'failed',
        detail: expect.stringContaining('outcome unknown'),
      });
    }
  },
  240_000,
);

test.concurrent(
  'a worker killed after it wrote a task: completed before any worker recorded it, the task is taken, not lost',
  async () => {
    const taskQueue = 'crash-task';
    const { receipt } = await intakeFor(taskQueue).accept({
      id: 'crash-task',
      type: 'callback.requested',
      customer: { email: 'crash-task@example.com' },
      data: {},
    });
    const crashing = startWorker(taskQueue, 'after-task-created');
    await crashing.ready;
    expect(await crashing.exited).toBe('SIGKILL');

    // The task is there for people to see; someone completes it before the journey has recorded it.
    const task = await database.db
      .selectFrom('tasks')
      .select('id')
      .where('customer_id', '=', receipt.customerId)
      .executeTakeFirstOrThrow();
    const done = await completeTask(database.db, task.id, 'reached', 'called at once');
    if ('error' in done) throw new Error(`could not complete the task: ${done.error}`);
    const workflowId = receipt.enrolled[0]!.workflowId;
    await client.workflow.getHandle(workflowId).signal(taskCompletedSignal, {
      stepId: 'call',
      taskId: task.id,
      outcome: 'reached',
      note: 'called at once',
      completedAt: done.task.completedAt!,
    });

    const healthy = startWorker(taskQueue);
    await healthy.ready;
    // The task waits a day: only a completion that was taken ends the wait now.
    const state = await eventually(
      'the journey to thank the customer',
      () => client.workflow.getHandle(workflowId).query(journeyStateQuery),
      { until: (s) => s.status !== 'active' },
    );
    healthy.child.kill('SIGKILL');
    await healthy.exited;
    expect(state.history.map((r) => `${r.stepId}:${r.outcome}:${r.detail ?? ''}`)).toEqual([
      'call:task:completed: reached',
      expect.stringMatching(/^thanks:sent:/),
    ]);
    expect(receivedBy('crash-task@example.com').map((m) => m.subject)).toEqual(['Thanks for talking to us']);
  },
  240_000,
);
