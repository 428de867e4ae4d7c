/**
 * Interpreter overhead: customers through a journey of send, wait, branch, send, update, run by
 * Rapport's interpreter and by a hand-written Temporal workflow doing the same activities, on the
 * same dev server, with the same worker, one after the other.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { migrate, openDatabase } from '../activities/db/database';
import { upsertCustomer } from '../activities/store/customers';
import type { JourneyInput } from '../workflows/types';
import { type BenchContext, benchPlan, benchWorker, devServer, type Figure, pool, round } from './common';

export const benchJourney = `
journey: bench-journey
name: Benchmark journey
category: transactional
trigger: { event: bench.start }
steps:
  - id: hello
    type: send
    channel: email
    subject: Hello
    text: "Hello {{ customer.firstName }}."
  - id: pause
    type: wait
    duration: 1s
  - id: buyer
    type: branch
    cases:
      - when: customer.metrics.orderCount > 0
        steps:
          - { id: for-buyers, type: send, channel: email, subject: For our buyers, text: "Hello {{ customer.firstName }}." }
    otherwise:
      - { id: for-browsers, type: send, channel: email, subject: For our browsers, text: "Hello {{ customer.firstName }}." }
  - id: mark
    type: update
    set: { attributes: { benchDone: 'yes' } }
`;

export async function interpreterBench(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.n(2000, 40);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bench-'));
  const env = await devServer();
  const database = await openDatabase({});
  let stopWorker: (() => Promise<void>) | undefined;
  try {
    await migrate(database.db);
    const plan = benchPlan(benchJourney, 'bench-journey.yaml');
    ctx.progress(`interpreter: ${n} customers`);
    const customers: string[] = [];
    for (let i = 0; i < n; i++) {
      customers.push(
        (await upsertCustomer(database.db, { email: `i${i}@example.com` }, { firstName: `C${i}` })).customer.id,
      );
    }
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    const worker = await benchWorker(env, {
      db: database.db,
      taskQueue: 'bench',
      outboxDir: path.join(scratch, 'outbox'),
      workflowBundle,
      worker: { maxConcurrentActivityTaskExecutions: 100, maxConcurrentWorkflowTaskExecutions: 100 },
    });
    stopWorker = () => worker.stop();
    const client = env.client;

    const run = async (
      label: string,
      start: (customerId: string, i: number) => Promise<{ result(): Promise<unknown> }>,
    ) => {
      const handles: { result(): Promise<unknown> }[] = [];
      const t = performance.now();
      await pool(customers, 32, async (c, i) => {
        handles.push(await start(c, i));
      });
      let done = 0;
      await pool(handles, 50, async (h) => {
        await h.result();
        if (++done % Math.max(1, Math.floor(n / 10)) === 0) ctx.progress(`interpreter: ${label} ${done}/${n}`);
      });
      return n / ((performance.now() - t) / 1000);
    };

    const interpreted = await run('journeys', (customerId, i) =>
      client.workflow.start('journeyWorkflow', {
        taskQueue: 'bench',
        workflowId: `bench-journey-${i}-${Date.now()}`,
        args: [
          {
            plan,
            version: 1,
            customerId,
            enrollmentId: `enr-bench-${i}`,
            event: { id: `e${i}`, type: 'bench.start', occurredAt: new Date().toISOString(), data: {} },
          } satisfies JourneyInput,
        ],
      }),
    );
    const raw = await run('raw workflows', (customerId, i) =>
      client.workflow.start('rawJourneyWorkflow', {
        taskQueue: 'bench',
        workflowId: `bench-raw-${i}-${Date.now()}`,
        args: [{ customerId, enrollmentId: `raw-${i}` }],
      }),
    );
    await worker.stop();
    return [
      {
        benchmark: 'interpreter',
        name: 'Rapport journeys',
        value: round(interpreted),
        unit: 'per s',
        note: `${n} customers, 32 started at a time`,
      },
      { benchmark: 'interpreter', name: 'hand-written workflows', value: round(raw), unit: 'per s' },
      { benchmark: 'interpreter', name: 'Rapport ÷ hand-written', value: round(interpreted / raw, 2), unit: 'ratio' },
    ];
  } finally {
    await stopWorker?.();
    await database.close();
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
