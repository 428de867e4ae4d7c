/**
 * Customers waiting in journeys: the worker process's memory (RSS) and the dev server's database
 * (SQLite file) with 10,000 and 50,000 journeys waiting on a 30-day timer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate, openDatabase } from '../activities/db/database';
import { workflowBundle } from '../client/tools/testing/environment';
import type { JourneyInput } from '../workflows/types';
import {
  type BenchContext,
  benchPlan,
  benchWorker,
  devServer,
  embeddedDatabase,
  treePssMiB,
  type Figure,
  pool,
  round,
  until,
} from './common';
import { JOURNEY_WORKFLOW, type JourneyWorkflow } from '../workflows/messages';

const journey = `
journey: waiting
name: Waiting
category: transactional
trigger: { event: bench.wait }
steps:
  - { id: later, type: wait, duration: 30d }
  - { id: hello, type: send, channel: email, subject: Hello, text: Hello }
`;

const mib = (bytes: number) => round(bytes / 2 ** 20);

function fileSize(file: string): number {
  return ['', '-wal', '-shm'].reduce((sum, s) => sum + (fs.existsSync(file + s) ? fs.statSync(file + s).size : 0), 0);
}

export async function waitingBench(ctx: BenchContext): Promise<Figure[]> {
  // 50,000 take about 45 minutes on two cores: BENCH_WAITING_SIZES=10000,50000 asks for them.
  const sizes = ctx.quick ? [200] : (process.env.BENCH_WAITING_SIZES ?? '10000').split(',').map((n) => Number(n));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-waiting-'));
  const dbFile = path.join(scratch, 'temporal.sqlite');
  const env = await devServer(dbFile);
  // The customer database as `npm start` runs it: the embedded PostgreSQL, in its own process.
  const server = await embeddedDatabase();
  const database = await openDatabase({ url: server.url });
  const figures: Figure[] = [];
  try {
    await migrate(database.db);
    const plan = benchPlan(journey, 'waiting.yaml');
    const worker = await benchWorker(env, {
      db: database.db,
      taskQueue: 'waiting',
      outboxDir: path.join(scratch, 'outbox'),
      workflowBundle: await workflowBundle(),
      // Rapport's default bound unless BENCH_MAX_CACHED_WORKFLOWS says otherwise.
      ...(process.env.BENCH_MAX_CACHED_WORKFLOWS
        ? { worker: { maxCachedWorkflows: Number(process.env.BENCH_MAX_CACHED_WORKFLOWS) } }
        : {}),
    });
    try {
      global.gc?.();
      const baseRss = process.memoryUsage().rss;
      const baseDb = fileSize(dbFile);
      figures.push(
        {
          benchmark: 'waiting',
          name: 'process RSS with nobody waiting',
          value: mib(baseRss),
          unit: 'MiB',
          note: 'worker and client in one process; the database in its own',
        },
        {
          benchmark: 'waiting',
          name: 'embedded PostgreSQL with nobody waiting',
          value: treePssMiB(server.pid),
          unit: 'MiB',
          note: 'proportional set size of the server and its backends',
        },
      );
      let started = 0;
      for (const size of sizes) {
        ctx.progress(`waiting: starting journeys up to ${size}`);
        const t = performance.now();
        // Started in chunks, each waited for until its journeys sit on their timer (the step search
        // attribute says so), so the worker never falls far behind the starts.
        const chunk = 1000;
        for (let from = started; from < size; from += chunk) {
          const to = Math.min(size, from + chunk);
          await pool(
            Array.from({ length: to - from }, (_, i) => from + i),
            32,
            async (i) => {
              await env.client.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, {
                taskQueue: 'waiting',
                workflowId: `waiting-${i}`,
                args: [
                  {
                    plan,
                    version: 1,
                    customerId: `cus-wait-${i}`,
                    enrollmentId: `enr-wait-${i}`,
                    event: { id: `w${i}`, type: 'bench.wait', occurredAt: new Date().toISOString(), data: {} },
                  } satisfies JourneyInput,
                ],
              });
            },
          );
          await until(
            `${to} journeys to wait`,
            async () =>
              (await env.client.workflow.count(`TaskQueue = 'waiting' AND RapportStep = 'later'`)).count >= to,
            600_000,
            500,
          );
          ctx.progress(`waiting: ${to}/${size} on their timer`);
        }
        started = size;
        const seconds = (performance.now() - t) / 1000;
        await new Promise((r) => setTimeout(r, 5000));
        global.gc?.();
        const memory = process.memoryUsage();
        const rss = memory.rss;
        const before = figures.length;
        figures.push(
          {
            benchmark: 'waiting',
            name: `${size} waiting: process RSS`,
            value: mib(rss),
            unit: 'MiB',
            note: `${round((rss - baseRss) / size / 1024, 2)} KiB per waiting customer over the idle process`,
          },
          {
            // Where it is: the V8 heap of the main thread, and what lies outside every heap (the
            // workflow thread's heap is in neither).
            benchmark: 'waiting',
            name: `${size} waiting: main thread heap / external`,
            value: mib(memory.heapUsed),
            unit: `/ ${mib(memory.external)} MiB`,
            note: `heap total ${mib(memory.heapTotal)} MiB, array buffers ${mib(memory.arrayBuffers)} MiB`,
          },
          {
            benchmark: 'waiting',
            name: `${size} waiting: embedded PostgreSQL`,
            value: treePssMiB(server.pid),
            unit: 'MiB',
            note: 'proportional set size of the server and its backends',
          },
          {
            benchmark: 'waiting',
            name: `${size} waiting: dev server database`,
            value: mib(fileSize(dbFile)),
            unit: 'MiB',
            note: `${round((fileSize(dbFile) - baseDb) / size / 1024, 2)} KiB per waiting customer`,
          },
          {
            benchmark: 'waiting',
            name: `${size} waiting: started and on their timer`,
            value: round((size - (sizes[sizes.indexOf(size) - 1] ?? 0)) / seconds),
            unit: 'per s',
          },
        );
        for (const f of figures.slice(before)) ctx.progress(`${f.name}: ${f.value} ${f.unit} ${f.note ?? ''}`);
      }
    } finally {
      await worker.stop();
    }
    return figures;
  } finally {
    await database.close();
    await server.stop();
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
