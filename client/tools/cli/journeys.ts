/** `rapport publish`, `rapport graph` and `rapport journeys ...`: journeys from a terminal. */
import fs from 'node:fs';
import path from 'node:path';
import { formatProblem } from '../../../definitions/compile';
import { toHtml, toMermaid } from '../../../definitions/graph';
import { builtinTemplatesDir } from '../../../paths';
import { compileFile, toPlan } from '../../server/journeys/load';
import type { PublishResult } from '../../sdk';
import { clientFrom, type ConnectionOptions } from './connection';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function templatesDir(option?: string): string {
  return path.resolve(option ?? builtinTemplatesDir);
}

function compileOrExit(file: string, templates?: string) {
  const result = compileFile(file, templatesDir(templates));
  if (!result.ok) {
    for (const p of result.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.exit(1);
  }
  for (const w of result.warnings) process.stderr.write(`${formatProblem(w)} (warning)\n`);
  return result;
}

function describeImpact(r: PublishResult): string {
  const lines = [`${r.journey}: ${r.currentVersion === null ? 'new journey' : `current version ${r.currentVersion}`}`];
  if (r.unchanged) lines.push('  unchanged: publishing would not create a new version');
  if (r.stepsAdded.length) lines.push(`  steps added: ${r.stepsAdded.join(', ')}`);
  if (r.stepsRemoved.length) lines.push(`  steps removed: ${r.stepsRemoved.join(', ')}`);
  if (r.waiting.length) {
    lines.push('  customers inside, by version and step:');
    for (const w of r.waiting) {
      lines.push(
        `    v${w.version} ${w.step ?? '(starting)'}: ${w.customers}${w.stepInNewVersion ? '' : ' (step not in the new version)'}`,
      );
    }
  }
  lines.push(`  ${r.note}`);
  if (!r.dryRun && r.version !== undefined)
    lines.push(r.created ? `  published as version ${r.version}` : `  still version ${r.version}`);
  return lines.join('\n');
}

export async function publishCommand(
  files: string[],
  options: ConnectionOptions & { dryRun?: boolean; json?: boolean; templates?: string },
) {
  const client = clientFrom(options);
  const results: PublishResult[] = [];
  for (const file of files) {
    const compiled = compileOrExit(file, options.templates);
    if (!compiled.ok) continue;
    const plan = toPlan(compiled.journey);
    results.push(
      await client.publish(plan, compiled.source, { sourcePath: path.resolve(file), dryRun: Boolean(options.dryRun) }),
    );
  }
  out(options.json ? JSON.stringify(results, null, 2) : results.map(describeImpact).join('\n'));
}

export function graphCommand(file: string, options: { format?: string; out?: string; templates?: string }) {
  const compiled = compileOrExit(file, options.templates);
  if (!compiled.ok) return;
  const format = options.format ?? (options.out?.endsWith('.html') ? 'html' : 'mermaid');
  if (format !== 'mermaid' && format !== 'html') {
    process.stderr.write(`unknown format "${format}"; use mermaid or html\n`);
    process.exit(2);
  }
  const text = format === 'html' ? toHtml(compiled.journey.definition) : toMermaid(compiled.journey.definition);
  if (options.out) {
    fs.writeFileSync(options.out, text);
    out(`wrote ${options.out}`);
  } else out(text);
}

export async function journeysList(options: ConnectionOptions & { json?: boolean }) {
  const journeys = await clientFrom(options).listJourneys();
  if (options.json) return out(JSON.stringify(journeys, null, 2));
  const rows = journeys.map((j) => [
    j.id,
    `v${j.latestVersion}`,
    j.status,
    j.category,
    j.trigger.event ?? `schedule ${j.trigger.schedule ?? ''}`,
    j.name,
  ]);
  const widths = rows.reduce((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), [] as number[]);
  out(
    rows
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') || 'no journeys published',
  );
}

export async function journeysShow(id: string, options: ConnectionOptions & { json?: boolean }) {
  const j = await clientFrom(options).getJourney(id);
  if (options.json) return out(JSON.stringify(j, null, 2));
  const lines = [
    `${j.name} (${j.id}): ${j.status}, ${j.category}, trigger ${j.trigger.event ?? j.trigger.schedule ?? ''}`,
    `versions: ${j.versions.map((v) => `v${v.version} ${v.publishedAt.slice(0, 10)}`).join(', ')}`,
    'enrollments:',
    ...j.enrollments.map(
      (e) => `  v${e.version} ${e.status}${e.step && e.status === 'active' ? ` at ${e.step}` : ''}: ${e.customers}`,
    ),
  ];
  out(lines.join('\n'));
}

export async function journeysSetStatus(
  id: string,
  action: 'pause' | 'resume',
  options: ConnectionOptions & { json?: boolean },
) {
  const client = clientFrom(options);
  const r = action === 'pause' ? await client.pauseJourney(id) : await client.resumeJourney(id);
  out(options.json ? JSON.stringify(r) : `${r.journey} is ${r.status}`);
}
