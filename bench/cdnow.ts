/**
 * Real data: the CDNOW purchases replayed as order.placed events through the built-in onboarding and
 * cross-sell journeys, on the time-skipping server, with 1997-98 mapped day for day onto simulated
 * time from now. Total time, messages sent, goal conversions and time per 1,000 customers.
 *
 * A day's orders arrive together, as a shop's would: they are sent at once, BENCH_CDNOW_CONCURRENCY
 * at a time (default 16; 1 replays them one after another, as the first measurements did), each
 * customer's orders of the day in order. BENCH_CDNOW_FILE=master replays CDNOW_master.txt (23,570
 * customers) instead of the sample. BENCH_CDNOW_SHARDS (default 2) splits the customers over that many
 * time-skipping servers. BENCH_CDNOW_CACHE sets each worker's cache of journeys
 * (RAPPORT_MAX_CACHED_WORKFLOWS; default the product's 300). BENCH_CDNOW_PARTS (default 1) replays the
 * customers in that many parts, one after another, each on fresh servers and databases: customers'
 * journeys never meet, so the parts together replay every order, and the figures are their sums.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { startTestStack } from '../client/tools/testing/stack';
import { timeSkippingEnv } from '../client/tools/testing/environment';
import { readCdnow } from '../scripts/cdnow';
import { versionPlan } from '../activities/store/versions';
import { journeyReport } from '../client/server/journeys/report';
import { projectRoot } from '../paths';
import { type BenchContext, embeddedDatabase, type Figure, pool, round } from './common';

const DAY = 86_400_000;

export async function cdnowBench(ctx: BenchContext): Promise<Figure[]> {
  const which = process.env.BENCH_CDNOW_FILE === 'master' ? 'master' : 'sample';
  const file = path.join(projectRoot, '..', 'shared', 'data', 'cdnow', `CDNOW_${which}.txt`);
  let purchases = readCdnow(file);
  const customers = [...new Set(purchases.map((p) => p.customer))];
  // BENCH_CDNOW_CUSTOMERS=all replays every customer of the file.
  const asked = process.env.BENCH_CDNOW_CUSTOMERS;
  const size = ctx.n(asked === 'all' ? customers.length : Number(asked ?? 300), 60);
  const concurrency = Math.max(1, Number(process.env.BENCH_CDNOW_CONCURRENCY ?? 16));
  const keep = new Set(customers.slice(0, size));
  // A stable sort: a customer's orders of one day stay in the file's order.
  purchases = purchases.filter((p) => keep.has(p.customer)).sort((a, b) => a.date.localeCompare(b.date));
  const days: (typeof purchases)[] = [];
  for (const p of purchases) {
    const last = days.at(-1);
    if (last?.[0]?.date === p.date) last.push(p);
    else days.push([p]);
  }
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-cdnow-'));
  for (const j of ['onboarding', 'cross-sell']) {
    fs.copyFileSync(path.join(projectRoot, 'definitions', 'journeys', `${j}.yaml`), path.join(scratch, `${j}.yaml`));
  }
  const dayOf = (d: string) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8)));
  const first = dayOf(purchases[0]!.date);
  const progress = { sent: 0, t: performance.now() };
  let messages = 0;
  const enrollments = new Map<string, { n: number; goals: number }>();
  /** Onboarding's goals as the journey reports count them, summed over the shards and parts. */
  let reportedGoals = 0;
  /** Database statements, every shard's; `replayed`: those from the first order to the last journey's end. */
  let statements = 0;
  let replayed = 0;
  const shardCount = Math.max(1, Number(process.env.BENCH_CDNOW_SHARDS ?? 2));
  const cache = process.env.BENCH_CDNOW_CACHE ? Number(process.env.BENCH_CDNOW_CACHE) : undefined;
  const parts = Math.max(1, Math.min(size, Number(process.env.BENCH_CDNOW_PARTS ?? 1)));
  const replayPart = async (part: string[], index: number): Promise<{ seconds: number; sleeping: number }> => {
    // BENCH_CDNOW_SHARDS=n splits the customers n ways, each part on a time-skipping server, a
    // customer database and a Rapport stack of its own, all replayed at once: customers do not share
    // journeys, and each server jumps its own clock between its own timers.
    const shardOf = new Map([...part].map((c, i) => [c, i % shardCount]));
    const shards = await Promise.all(
      Array.from({ length: shardCount }, async () => {
        const env = await timeSkippingEnv();
        // The customer database as `npm start` runs it: the embedded PostgreSQL.
        const database = await embeddedDatabase();
        const stack = await startTestStack(env, {
          journeysDirs: [scratch],
          databaseUrl: database.url,
          onQuery: () => statements++,
          ...(cache ? { maxCachedWorkflows: cache } : {}),
        });
        return { env, database, stack };
      }),
    );
    try {
      const t = performance.now();
      const before = statements;
      const replay = async ({ env, stack }: (typeof shards)[number], shard: number) => {
        const start = await env.currentTimeMs();
        const rank = new Map<string, number>();
        // Wall time inside env.sleep: the time-skipping server firing the journeys' timers, one instant
        // after another, with everything each one sets off.
        let sleeping = 0;
        const send = async (p: (typeof purchases)[number], n: number, at: number) => {
          await stack.sendEvent({
            id: `cdnow-${p.customer}-${n}`,
            type: 'order.placed',
            customer: { externalId: { system: 'cdnow', id: p.customer }, email: `cdnow${p.customer}@example.com` },
            profile: { consent: { email: { marketing: true } } },
            occurredAt: new Date(at).toISOString(),
            data: {
              orderId: `cdnow-${p.customer}-${n}`,
              total: p.dollars,
              lines: [{ product: 'CDs', category: 'music', quantity: Math.max(1, p.cds) }],
            },
          });
          if (++progress.sent % Math.max(1, Math.floor(purchases.length / 20)) === 0) {
            ctx.progress(
              `cdnow: ${progress.sent}/${purchases.length} orders${parts > 1 ? ` (part ${index + 1} of ${parts})` : ''}, simulated ${new Date(await env.currentTimeMs()).toISOString().slice(0, 10)}, ${round((performance.now() - progress.t) / 1000)} s`,
            );
          }
        };
        for (const all of days) {
          const day = all.filter((p) => shardOf.get(p.customer) === shard);
          if (day.length === 0) continue;
          const target = start + (dayOf(day[0]!.date) - first);
          const now = await env.currentTimeMs();
          if (target > now) {
            const slept = performance.now();
            await env.sleep(target - now);
            sleeping += performance.now() - slept;
          }
          // The day's orders by customer, each customer's in order.
          const byCustomer = new Map<string, { p: (typeof purchases)[number]; n: number }[]>();
          for (const p of day) {
            const n = (rank.get(p.customer) ?? 0) + 1;
            rank.set(p.customer, n);
            byCustomer.set(p.customer, [...(byCustomer.get(p.customer) ?? []), { p, n }]);
          }
          await pool([...byCustomer.values()], concurrency, async (orders) => {
            for (const o of orders) await send(o.p, o.n, Math.max(target, now));
          });
        }
        // Let every journey run out (cross-sell's last reminder is 26 days after its start).
        const slept = performance.now();
        await env.sleep(60 * DAY);
        sleeping += performance.now() - slept;
        return sleeping;
      };
      const sleepings = await Promise.all(shards.map((s, i) => replay(s, i)));
      const sleeping = Math.max(...sleepings);
      await new Promise((r) => setTimeout(r, 2000));
      const seconds = (performance.now() - t) / 1000;
      replayed += statements - before;
      // Summed over the shards' databases.
      for (const { stack } of shards) {
        const m = await sql<{ n: string }>`select count(*) as n from send_ledger where state = 'sent'`.execute(
          stack.db,
        );
        messages += Number(m.rows[0]?.n ?? 0);
        const e = await sql<{ journey_id: string; n: string; goals: string }>`
          select journey_id, count(*) as n, count(*) filter (where goal_met) as goals from enrollments group by journey_id`.execute(
          stack.db,
        );
        for (const row of e.rows) {
          const sum = enrollments.get(row.journey_id) ?? { n: 0, goals: 0 };
          enrollments.set(row.journey_id, { n: sum.n + Number(row.n), goals: sum.goals + Number(row.goals) });
        }
        const onboarding = await versionPlan(stack.db, 'onboarding', 1);
        if (onboarding) reportedGoals += (await journeyReport(stack.db, onboarding.definition, {})).goal?.met ?? 0;
      }
      return { seconds, sleeping };
    } finally {
      for (const { env, database, stack } of shards) {
        await stack.close();
        await database.stop();
        await env.teardown();
      }
    }
  };
  try {
    let seconds = 0;
    let sleeping = 0;
    const all = [...keep];
    for (let i = 0; i < parts; i++) {
      const part = all.filter((_, k) => k % parts === i);
      const r = await replayPart(part, i);
      seconds += r.seconds;
      sleeping += r.sleeping;
      if (parts > 1) ctx.progress(`cdnow: part ${i + 1} of ${parts}, ${part.length} customers, ${round(r.seconds)} s`);
    }
    const figures: Figure[] = [
      {
        benchmark: 'cdnow',
        name: 'customers',
        value: keep.size,
        unit: '',
        note: `CDNOW_${which}.txt: ${purchases.length} orders, 18 months simulated, ${concurrency} at a time${shardCount > 1 ? `, ${shardCount} time-skipping servers` : ''}${cache ? `, ${cache} journeys cached per worker` : ''}${parts > 1 ? `, in ${parts} parts one after another` : ''}`,
      },
      {
        benchmark: 'cdnow',
        name: 'total time',
        value: round(seconds),
        unit: 's',
        note: `${round(sleeping / 1000)} s of it while simulated time passed between days (timers firing${shardCount > 1 ? ', the longest shard' : ''}${parts > 1 ? ', summed over the parts' : ''}), the rest sending orders`,
      },
      { benchmark: 'cdnow', name: 'time per 1,000 customers', value: round((seconds / keep.size) * 1000), unit: 's' },
      { benchmark: 'cdnow', name: 'messages sent', value: messages, unit: '' },
      {
        benchmark: 'cdnow',
        name: 'database statements per order',
        value: round(replayed / purchases.length),
        unit: '',
        note: "every statement of the replay (accepting, routing, the journeys, their sends; not the routing locks' sessions), over the orders sent",
      },
    ];
    // The report's count against the file's: customers whose second order came at most 60 days after
    // the first (the same day included), computed from the purchases alone.
    const days = new Map<string, number[]>();
    for (const p of purchases) days.set(p.customer, [...(days.get(p.customer) ?? []), dayOf(p.date)]);
    const fromFile = [...days.values()].filter((ds) => {
      const [first, second] = ds.sort((a, b) => a - b);
      return second !== undefined && second - first! <= 60 * DAY;
    }).length;
    figures.push({
      benchmark: 'cdnow',
      name: 'onboarding goals: the report / counted from the file',
      value: reportedGoals,
      unit: `/ ${fromFile}`,
      note: reportedGoals === fromFile ? 'equal' : 'NOT EQUAL',
    });
    for (const [journey, e] of [...enrollments].sort()) {
      figures.push({
        benchmark: 'cdnow',
        name: `${journey}: enrollments / goals met`,
        value: e.n,
        unit: `/ ${e.goals}`,
      });
    }
    return figures;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
