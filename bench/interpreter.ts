/**
 * Interpreter overhead: customers through a journey of send, wait, branch, send, update, run by
 * Rapport's interpreter and by a hand-written Temporal workflow doing the same activities, on the
 * same dev server, with the same worker, one after the other.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { migrate, openDatabase } from '../activities/db/database';
import { upsertCustomer } from '../activities/store/customers';
import { buildWorkflowBundle } from '../worker/bundle';
import type { JourneyInput } from '../workflows/types';
import type { RawInput } from './workflows';
import {
  type BenchContext,
  benchPlan,
  benchWorker,
  devServer,
  embeddedDatabase,
  type Figure,
  pool,
  queryStats,
  round,
} from './common';
import { JOURNEY_WORKFLOW, type JourneyWorkflow } from '../workflows/messages';

const benchJourney = `
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

type Sum = { count: number; ms: number };

export async function interpreterBench(ctx: BenchContext): Promise<Figure[]> {
  const n = Number(process.env.BENCH_INTERPRETER_CUSTOMERS ?? ctx.n(2000, 10));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bench-'));
  const env = await devServer();
  const queries = queryStats();
  // The customer database as `npm start` runs it: the embedded PostgreSQL.
  const server = await embeddedDatabase();
  const database = await openDatabase({ url: server.url, onQuery: queries.onQuery });
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
    // Built as Rapport builds its own (the preloaded modules, the failure converter), with the
    // hand-written journey beside Rapport's workflows.
    const workflowBundle = await buildWorkflowBundle({ workflows: require.resolve('./workflows') });
    const worker = await benchWorker(env, {
      db: database.db,
      taskQueue: 'bench',
      outboxDir: path.join(scratch, 'outbox'),
      workflowBundle,
      worker: { maxConcurrentActivityTaskExecutions: 100, maxConcurrentWorkflowTaskExecutions: 100 },
    });
    stopWorker = () => worker.stop();
    // Rapport's client, as the router uses it: every variant's payloads are encrypted alike.
    const client = worker.temporal;

    // The variants run in rounds, in turn, each round in another order: a server that slows as its
    // history grows slows them all alike. Each workflow has its own enrollment id, so no send finds
    // an earlier one's message already sent.
    type Start = (customerId: string, id: string) => Promise<{ result(): Promise<unknown> }>;
    const raw =
      (extra: NonNullable<RawInput['with']>): Start =>
      (customerId, id) =>
        client.workflow.start('rawJourneyWorkflow', {
          taskQueue: 'bench',
          workflowId: `bench-${id}`,
          args: [{ customerId, enrollmentId: id, with: extra } satisfies RawInput],
        });
    const variants: { label: string; share: number; start: Start }[] = [
      {
        label: 'Rapport journeys',
        share: 1,
        start: (customerId, id) =>
          client.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, {
            taskQueue: 'bench',
            workflowId: `bench-${id}`,
            args: [
              {
                plan,
                version: 1,
                customerId,
                enrollmentId: id,
                event: { id, type: 'bench.start', occurredAt: new Date().toISOString(), data: {} },
              } satisfies JourneyInput,
            ],
          }),
      },
      { label: 'hand-written workflows', share: 1, start: raw({}) },
      // What the interpreter adds, one part at a time.
      {
        label: 'hand-written + the step search attribute (at the wait, at the end)',
        share: 1,
        start: raw({ searchAttributes: true }),
      },
      {
        label: 'hand-written + markStep and finishEnrollment (local activities)',
        share: 1,
        start: raw({ records: true }),
      },
      // Both, as Rapport does them: what is left between this and Rapport is the interpreter's own.
      {
        label: 'hand-written + the step search attribute and the records',
        share: 1,
        start: raw({ searchAttributes: true, records: true }),
      },
    ];
    const rounds = ctx.quick ? 1 : 4;
    const totals = variants.map(() => ({ n: 0, ms: 0, queries: 0, dbMs: 0, bySql: new Map<string, Sum>() }));
    const variant = (v: number) => variants[v]!;
    /** Runs `size` customers through variant `v`, 32 started at a time, and counts them unless warming up. */
    const runChunk = async (v: number, size: number, counted: boolean) => {
      const total = totals[v]!;
      const chunk = Array.from({ length: size }, (_, i) => customers[(total.n + i) % customers.length]!);
      const handles: { result(): Promise<unknown> }[] = [];
      queries.reset();
      const t = performance.now();
      await pool(chunk, 32, async (customerId, i) => {
        handles.push(await variant(v).start(customerId, counted ? `v${v}-${total.n + i}` : `w${v}-${i}`));
      });
      await pool(handles, 50, (h) => h.result().then(() => undefined));
      const ms = performance.now() - t;
      const stats = queries.take();
      if (!counted) return ms;
      total.ms += ms;
      total.n += size;
      total.queries += stats.count;
      total.dbMs += stats.ms;
      for (const st of stats.statements) {
        const sum = total.bySql.get(st.sql) ?? { count: 0, ms: 0 };
        total.bySql.set(st.sql, { count: sum.count + st.count, ms: sum.ms + st.ms });
      }
      return ms;
    };
    // A round not counted first, each variant in it: whichever ran first would otherwise pay alone
    // for what a fresh worker does once (the workflow thread's context, compiling the code paths,
    // the database pool's connections). Before the nineteenth measurement Rapport's journeys did.
    const warmUp: number[] = [];
    if (!ctx.quick) {
      for (let v = 0; v < variants.length; v++) {
        ctx.progress(`interpreter: warming up, ${variant(v).label}: 32 customers`);
        warmUp.push(await runChunk(v, 32, false));
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < variants.length; k++) {
        const v = (r + k) % variants.length;
        const size = Math.max(1, Math.round((n * variant(v).share) / rounds));
        ctx.progress(`interpreter: round ${r + 1}/${rounds}, ${variant(v).label}: ${size} customers`);
        await runChunk(v, size, true);
      }
    }
    // BENCH_QUERIES=1 lists each variant's statements, per customer.
    if (process.env.BENCH_QUERIES) {
      variants.forEach((v, i) => {
        const t = totals[i]!;
        ctx.progress(`interpreter: ${v.label}, per customer:`);
        for (const [sql, sum] of [...t.bySql].sort((a, b) => b[1].ms - a[1].ms)) {
          ctx.progress(`  ${round(sum.ms / t.n, 1)} ms ${round(sum.count / t.n, 2)}x ${sql}`);
        }
      });
    }
    // Each variant's history: what it costs the Temporal server, event by event.
    const histories: number[] = [];
    for (let v = 0; v < variants.length; v++) {
      const events = (await client.workflow.getHandle(`bench-v${v}-0`).fetchHistory()).events ?? [];
      histories.push(events.length);
      if (process.env.BENCH_QUERIES) {
        const kinds = new Map<string, number>();
        for (const e of events) {
          const kind = (temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)).replace(
            'EVENT_TYPE_',
            '',
          );
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        }
        ctx.progress(
          `interpreter: ${variants[v]!.label}, history: ${[...kinds].map(([k, c]) => `${k} ×${c}`).join(', ')}`,
        );
      }
    }
    const rate = (v: number) => totals[v]!.n / (totals[v]!.ms / 1000);
    await worker.stop();
    return [
      ...variants.map((v, i) => ({
        benchmark: 'interpreter',
        name: v.label,
        value: round(rate(i)),
        unit: 'per s',
        note: `${totals[i]!.n} customers in ${rounds} round(s), 32 started at a time; ${round(totals[i]!.queries / totals[i]!.n, 1)} queries and ${round(totals[i]!.dbMs / totals[i]!.n, 1)} ms in the database per customer; ${histories[i]} history events${warmUp.length ? `; the warm-up's 32 in ${round(warmUp[i]! / 1000, 1)} s, not counted` : ''}`,
      })),
      { benchmark: 'interpreter', name: 'Rapport ÷ hand-written', value: round(rate(0) / rate(1), 2), unit: 'ratio' },
      {
        benchmark: 'interpreter',
        name: 'Rapport ÷ hand-written with the step search attribute and the records',
        value: round(rate(0) / rate(variants.length - 1), 2),
        unit: 'ratio',
        note: "what is left is the interpreter's own work: walking the plan, evaluating CEL, the journey report's counts written with the records",
      },
    ];
  } finally {
    await stopWorker?.();
    await database.close();
    await server.stop();
    await env.teardown();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
