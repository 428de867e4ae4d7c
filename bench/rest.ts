/**
 * Memory at rest: `rapport start` as a user runs it (embedded Temporal dev server, embedded
 * PostgreSQL, outbox), in a process of its own. Its RSS once it is running and idle (10 s after it
 * says so, and 45 s after), then after 400 customers entered a journey that waits; the embedded
 * PostgreSQL and the Temporal dev server are counted separately (proportional set size of each
 * process tree).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../test/helpers/ports';
import { runRapport } from '../test/helpers/process';
import { type BenchContext, type Figure, pool, processes, round, treePssMiB, until } from './common';

const journey = `
journey: rest
name: Rest
category: transactional
trigger: { event: bench.rest }
steps:
  - { id: later, type: wait, duration: 30d }
  - { id: hello, type: send, channel: email, subject: Hello, text: Hello }
`;

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return round(Number(m?.[1] ?? 0) / 1024);
}

/** The pid of the child of `parent` whose command line contains `text`. */
function childPid(parent: number, text: string): number | undefined {
  return processes().find((p) => p.ppid === parent && p.cmd.includes(text))?.pid;
}

export async function restBench(ctx: BenchContext): Promise<Figure[]> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-rest-'));
  const journeys = path.join(scratch, 'journeys');
  fs.mkdirSync(journeys);
  fs.writeFileSync(path.join(journeys, 'rest.yaml'), journey);
  const env = {
    RAPPORT_DATA_DIR: path.join(scratch, 'data'),
    RAPPORT_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    RAPPORT_JOURNEYS_DIRS: journeys,
  };
  const url = `http://127.0.0.1:${env.RAPPORT_PORT}`;
  ctx.progress('rest: rapport start');
  const rapport = runRapport(env);
  const figures: Figure[] = [];
  try {
    await rapport.waitForLog(/Rapport is running/);
    const pid = rapport.child.pid!;
    const postgres = childPid(pid, 'native/bin/postgres');
    const temporal = childPid(pid, 'start-dev');
    const measure = (label: string) => {
      figures.push(
        { benchmark: 'rest', name: `${label}: Rapport's process RSS`, value: rssMiB(pid), unit: 'MiB' },
        ...(postgres
          ? [{ benchmark: 'rest', name: `${label}: embedded PostgreSQL`, value: treePssMiB(postgres), unit: 'MiB' }]
          : []),
        ...(temporal
          ? [{ benchmark: 'rest', name: `${label}: Temporal dev server`, value: treePssMiB(temporal), unit: 'MiB' }]
          : []),
      );
    };
    // Settled: a few seconds after start, as a user finds it; then once V8's memory reducer has had
    // time to collect what starting left (it comes 15 to 35 s after start).
    // The quick run only checks that the benchmark works: it waits a second where the full run waits ten.
    const settle = ctx.quick ? 1_000 : 10_000;
    await new Promise((r) => setTimeout(r, settle));
    measure('idle after start');
    const later = ctx.quick ? 1 : 35;
    await new Promise((r) => setTimeout(r, later * 1000));
    measure(`idle, ${settle / 1000 + later} s after start`);

    const n = ctx.n(400, 40);
    ctx.progress(`rest: ${n} customers entering a journey that waits`);
    await pool(
      Array.from({ length: n }, (_, i) => i),
      8,
      async (i) => {
        const res = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: `rest-${i}`, type: 'bench.rest', customer: { email: `rest${i}@example.com` } }),
        });
        if (res.status !== 202) throw new Error(`event rest-${i}: ${res.status}`);
      },
    );
    const routed = async (i: number) => {
      const res = await fetch(`${url}/v1/events/rest-${i}`);
      return res.ok && ((await res.json()) as { status: string }).status === 'routed';
    };
    await until(
      `${n} customers to be enrolled`,
      async () => (await Promise.all(Array.from({ length: n }, (_, i) => routed(i)))).every(Boolean),
      10 * 60_000,
      1000,
    );
    await new Promise((r) => setTimeout(r, settle));
    measure(`${n} waiting`);
  } finally {
    await rapport.stop('SIGINT');
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return figures;
}
