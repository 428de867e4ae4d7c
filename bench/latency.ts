/** From POST /v1/events to the SMTP server receiving the message: p50, p95 and p99. */
import { startTestStack } from '../client/tools/testing/stack';
import { startSmtpSink } from '../test/helpers/smtp-sink';
import {
  type BenchContext,
  cpuPerItem,
  cpuSeconds,
  devServer,
  embeddedDatabase,
  type Figure,
  percentile,
  pool,
  round,
  until,
} from './common';

export async function latencyBench(ctx: BenchContext): Promise<Figure[]> {
  const n = ctx.n(1000, 50);
  const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? 8);
  const env = await devServer();
  const smtp = await startSmtpSink();
  // The customer database as `npm start` runs it: the embedded PostgreSQL.
  const database = await embeddedDatabase();
  const stack = await startTestStack(env, {
    journeysDirs: [],
    smtpUrl: smtp.url,
    databaseUrl: database.url,
    rateLimit: 100_000_000,
  });
  try {
    await stack.publish({
      'ping.yaml': `
journey: ping
name: Ping
category: transactional
trigger: { event: bench.ping }
entry: { reentry: always }
steps:
  - id: pong
    type: send
    channel: email
    subject: "pong {{ event.data.n }}"
    text: "Your receipt."
`,
    });
    const url = await stack.api.listen({ host: '127.0.0.1', port: 0 });
    const sentAt = new Map<string, number>();
    let next = 0;
    const post = async () => {
      const i = next++;
      sentAt.set(`pong ${i}`, Date.now());
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `ping-${i}`,
          type: 'bench.ping',
          customer: { email: `p${i}@example.com` },
          data: { n: i },
        }),
      });
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}`);
    };
    const latencies = (from: number) =>
      smtp.received
        .slice(from)
        .map((m, i) => smtp.arrivedAt[from + i]! - (sentAt.get(m.subject ?? '') ?? NaN))
        .filter((v) => Number.isFinite(v))
        .sort((a, b) => a - b);
    const figures = (label: string, values: number[], note: string): Figure[] => [
      { benchmark: 'event to message', name: `${label} p50`, value: round(percentile(values, 50)), unit: 'ms', note },
      { benchmark: 'event to message', name: `${label} p95`, value: round(percentile(values, 95)), unit: 'ms' },
      { benchmark: 'event to message', name: `${label} p99`, value: round(percentile(values, 99)), unit: 'ms' },
    ];

    // One at a time: the next event once the previous message arrived.
    const single = Math.ceil(n / 2);
    ctx.progress(`latency: ${single} events one at a time`);
    for (let k = 0; k < single; k++) {
      await post();
      await until('the message', () => Promise.resolve(smtp.received.length > k), 60_000, 2);
    }
    const unloaded = latencies(0);

    // Under load: the rest posted with `inFlight` requests at a time, as fast as they are accepted;
    // messages per second from the first post to the last message is what this path carries here.
    ctx.progress(`latency: ${n - single} events, ${inFlight} requests in flight`);
    const loadedFrom = smtp.received.length;
    const loadedCpu = cpuSeconds();
    const loadedStart = Date.now();
    await pool(
      Array.from({ length: n - single }, (_, i) => i),
      inFlight,
      () => post(),
    );
    await until(
      'every message at the SMTP server',
      () => Promise.resolve(smtp.received.length >= loadedFrom + n - single),
      300_000,
    );
    const capacity = (n - single) / ((smtp.arrivedAt[loadedFrom + n - single - 1]! - loadedStart) / 1000);
    const loadedCpuNote = cpuPerItem(loadedCpu, cpuSeconds(), n - single);
    const loaded = latencies(loadedFrom);

    // Paced: a steady rate (half of what this path carried just now, or BENCH_LATENCY_RATE) for 60 s,
    // each event posted on its schedule whatever the answers; the last 10 s against the first 10 s
    // shows whether a queue grows.
    const rate = Number(process.env.BENCH_LATENCY_RATE ?? Math.max(1, Math.round(capacity / 2)));
    const pacedSeconds = ctx.n(60, 3);
    const pacedCount = Math.round(rate * pacedSeconds);
    ctx.progress(`latency: ${pacedCount} events paced at ${rate}/s for ${pacedSeconds} s`);
    const pacedFrom = smtp.received.length;
    const pacedStart = Date.now();
    const posts: Promise<void>[] = [];
    for (let k = 0; k < pacedCount; k++) {
      const due = pacedStart + (k * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      posts.push(post());
    }
    await Promise.all(posts);
    await until(
      'every paced message at the SMTP server',
      () => Promise.resolve(smtp.received.length >= pacedFrom + pacedCount),
      300_000,
    );
    const paced = smtp.received.slice(pacedFrom, pacedFrom + pacedCount).map((m, i) => ({
      sent: sentAt.get(m.subject ?? '') ?? NaN,
      ms: smtp.arrivedAt[pacedFrom + i]! - (sentAt.get(m.subject ?? '') ?? NaN),
    }));
    const pacedValues = paced.map((p) => p.ms).sort((a, b) => a - b);
    const window = (from: number, to: number) =>
      paced
        .filter((p) => p.sent >= pacedStart + from * 1000 && p.sent < pacedStart + to * 1000)
        .map((p) => p.ms)
        .sort((a, b) => a - b);
    const firstTen = window(0, Math.min(10, pacedSeconds));
    const lastTen = window(Math.max(0, pacedSeconds - 10), pacedSeconds);
    return [
      ...figures(`paced at ${rate}/s for ${pacedSeconds} s:`, pacedValues, `${pacedCount} events`),
      {
        benchmark: 'event to message',
        name: `paced at ${rate}/s: p99 in the first / last 10 s`,
        value: round(percentile(lastTen, 99)),
        unit: 'ms',
        note: `first 10 s: ${round(percentile(firstTen, 99))} ms; a growing queue would show here`,
      },
      ...figures(
        'one at a time:',
        unloaded,
        `${unloaded.length} events; dev server, embedded PostgreSQL, SMTP on loopback`,
      ),
      ...figures(`${inFlight} in flight:`, loaded, `${loaded.length} events posted as fast as accepted`),
      {
        benchmark: 'event to message',
        name: `${inFlight} in flight: messages received per second (the capacity)`,
        value: round(capacity),
        unit: 'per s',
        note: `from the first post to the last message (the paced rate is half of it unless BENCH_LATENCY_RATE); ${loadedCpuNote}`,
      },
    ];
  } finally {
    await stack.close();
    await database.stop();
    await smtp.close();
    await env.teardown();
  }
}
