/**
 * `npm run bench`: Rapport's speed and memory, measured against raw Temporal on this machine.
 * Prints a table and writes bench/results/full.json (bench/results/quick.json with --quick).
 *
 *   npm run bench                          # every benchmark, full size (several minutes)
 *   npm run bench -- --quick               # small sizes: checks the benchmarks work (CI runs this)
 *   npm run bench -- --only latency,records
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchContext, Figure } from './common';
import { ingestionBench } from './ingestion';
import { interpreterBench } from './interpreter';
import { latencyBench } from './latency';
import { recordsBench } from './records';
import { restBench } from './rest';
import { waitingBench } from './waiting';
import { cdnowBench } from './cdnow';
import { reportBench } from './report';
import { insightsBench } from './insights';
import { throughputBench } from './throughput';
import { consoleBench } from './console';

const benchmarks: Record<string, (ctx: BenchContext) => Promise<Figure[]>> = {
  interpreter: interpreterBench,
  ingestion: ingestionBench,
  latency: latencyBench,
  records: recordsBench,
  rest: restBench,
  waiting: waitingBench,
  cdnow: cdnowBench,
  report: reportBench,
  insights: insightsBench,
  throughput: throughputBench,
  console: consoleBench,
};

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args[args.indexOf('--only') + 1];
  const only = args.includes('--only') && onlyArg ? onlyArg.split(',') : Object.keys(benchmarks);
  const unknown = only.filter((o) => !benchmarks[o]);
  if (unknown.length) {
    process.stderr.write(
      `unknown benchmark(s) ${unknown.join(', ')}; expected ${Object.keys(benchmarks).join(', ')}\n`,
    );
    process.exit(2);
  }
  const started = Date.now();
  const ctx: BenchContext = {
    quick,
    n: (full, small) => (quick ? small : full),
    progress: (text) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}\n`),
  };
  const figures: Figure[] = [];
  for (const name of only) {
    ctx.progress(`${name}: starting`);
    figures.push(...(await benchmarks[name]!(ctx)));
  }
  const widths = [Math.max(...figures.map((f) => `${f.benchmark}: ${f.name}`.length)), 12];
  process.stdout.write(
    [
      `${'figure'.padEnd(widths[0]!)}  ${'value'.padStart(widths[1]!)}  unit`,
      ...figures.map(
        (f) =>
          `${`${f.benchmark}: ${f.name}`.padEnd(widths[0]!)}  ${String(f.value).padStart(widths[1]!)}  ${f.unit}${f.note ? `  (${f.note})` : ''}`,
      ),
    ].join('\n') + '\n',
  );
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  const out = path.join(__dirname, 'results', quick ? 'quick.json' : 'full.json');
  const machine = {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  fs.writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), quick, machine, figures }, null, 2) + '\n');
  process.stderr.write(
    `wrote ${path.relative(process.cwd(), out)} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
