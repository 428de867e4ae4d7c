/**
 * `rapport import customers|orders|suppressions <file>`: a customer base from CSV or JSON lines, sent
 * to a running Rapport in batches. Every row is validated there; bad rows are reported with their
 * line numbers and the good ones go in. Columns are renamed to Rapport's fields with --map.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parse } from 'csv-parse';
import type { ImportReport, ImportRow } from '../../sdk';
import { clientFrom, type ConnectionOptions } from './connection';

export interface ImportOptions extends ConnectionOptions {
  format?: 'csv' | 'jsonl';
  map?: string;
  delimiter?: string;
  system?: string;
  batch?: string;
  json?: boolean;
}

const KINDS = ['customers', 'orders', 'suppressions'] as const;
type ImportKind = (typeof KINDS)[number];

/**
 * "a=b,c=d" → { a: 'b', c: 'd' }: file column → Rapport field. "unsubscribed=!consent.email.marketing"
 * renames a yes/no column and inverts it, for tools that export the opt-out rather than the consent.
 */
function parseMapping(spec: string | undefined): Record<string, { to: string; invert: boolean }> {
  const mapping: Record<string, { to: string; invert: boolean }> = {};
  for (const pair of (spec ?? '').split(',').filter((p) => p.trim())) {
    const [from, to] = pair.split('=').map((x) => x.trim());
    const field = to?.replace(/^!/, '');
    if (!from || !field)
      throw new Error(`--map: expected column=field pairs such as "cust_id=externalId", got "${pair}"`);
    mapping[from] = { to: field, invert: to!.startsWith('!') };
  }
  return mapping;
}

const OPPOSITE: Record<string, string> = { true: 'false', yes: 'no', y: 'n', '1': '0' };
for (const [a, b] of Object.entries(OPPOSITE)) OPPOSITE[b] = a;

/** A yes/no value inverted; undefined when it is not one. Blank stays blank. */
function inverted(value: unknown): unknown {
  if (value === '' || value === null || value === undefined) return value;
  if (typeof value === 'boolean') return !value;
  return typeof value === 'string' || typeof value === 'number'
    ? OPPOSITE[String(value).trim().toLowerCase()]
    : undefined;
}

/** The rows of a file, with their line numbers, columns renamed; a line that cannot be read says why. */
async function* readRows(
  file: string,
  options: Pick<ImportOptions, 'format' | 'map' | 'delimiter' | 'system'>,
): AsyncGenerator<ImportRow | { line: number; problem: string }> {
  const mapping = parseMapping(options.map);
  const rename = (line: number, fields: Record<string, unknown>): ImportRow | { line: number; problem: string } => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      const m = mapping[k];
      if (!m?.invert) {
        out[m?.to ?? k] = v;
        continue;
      }
      const value = inverted(v);
      if (value === undefined)
        return { line, problem: `${k}: expected true/false, yes/no or 1/0 to invert, got ${JSON.stringify(v)}` };
      out[m.to] = value;
    }
    if (options.system && out.externalSystem === undefined) out.externalSystem = options.system;
    return { line, fields: out };
  };
  const format = options.format ?? (/\.jsonl?$|\.ndjson$/i.test(file) ? 'jsonl' : 'csv');
  if (format === 'jsonl') {
    let line = 0;
    for await (const text of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
      line++;
      if (!text.trim()) continue;
      let fields: unknown;
      try {
        fields = JSON.parse(text);
      } catch (err) {
        yield { line, problem: `not JSON: ${(err as Error).message}` };
        continue;
      }
      if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
        yield { line, problem: 'expected a JSON object' };
        continue;
      }
      yield rename(line, fields as Record<string, unknown>);
    }
    return;
  }
  const parser = fs.createReadStream(file).pipe(
    parse({
      columns: true,
      delimiter: options.delimiter ?? ',',
      trim: true,
      skip_empty_lines: true,
      info: true,
      relax_column_count: true,
      bom: true,
    }),
  );
  for await (const record of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    yield rename(record.info.lines, record.record);
  }
}

function progress(done: number, report: ImportReport, startedAt: number): void {
  const rate = Math.round(done / Math.max(0.001, (Date.now() - startedAt) / 1000));
  const text = `  ${done} rows read, ${report.imported} imported, ${report.unchanged} unchanged, ${report.errors.length} problems (${rate} rows/s)`;
  if (process.stderr.isTTY) process.stderr.write(`\r${text}`);
  else process.stderr.write(`${text}\n`);
}

export async function importFile(
  kind: ImportKind,
  file: string,
  options: ImportOptions,
  onProgress: (done: number, report: ImportReport) => void = () => undefined,
): Promise<ImportReport> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const client = clientFrom(options);
  const size = Math.min(1000, Math.max(1, Number(options.batch ?? 500)));
  const total: ImportReport = { imported: 0, unchanged: 0, errors: [] };
  let batch: ImportRow[] = [];
  let done = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await client.importRows(kind, batch, path.basename(file));
    total.imported += r.imported;
    total.unchanged += r.unchanged;
    total.errors.push(...r.errors);
    done += batch.length;
    batch = [];
    onProgress(done, total);
  };
  for await (const row of readRows(file, options)) {
    if ('problem' in row) {
      total.errors.push({ line: row.line, path: '(row)', message: row.problem });
      continue;
    }
    batch.push(row);
    if (batch.length >= size) await flush();
  }
  await flush();
  total.errors.sort((a, b) => a.line - b.line);
  return total;
}

export async function importCommand(kind: string, file: string, options: ImportOptions): Promise<void> {
  if (!(KINDS as readonly string[]).includes(kind)) {
    process.stderr.write(`rapport import: expected "customers", "orders" or "suppressions", got "${kind}"\n`);
    process.exitCode = 2;
    return;
  }
  const startedAt = Date.now();
  const report = await importFile(kind as ImportKind, file, options, (done, r) => progress(done, r, startedAt));
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    process.stdout.write(
      `${kind}: ${report.imported} imported, ${report.unchanged} already there, ${report.errors.length} problem(s), in ${seconds} s\n`,
    );
    for (const e of report.errors.slice(0, 50)) process.stdout.write(`  ${file}:${e.line}: ${e.path}: ${e.message}\n`);
    if (report.errors.length > 50)
      process.stdout.write(`  ... and ${report.errors.length - 50} more (--json lists all)\n`);
  }
  // Scripts can tell: 1 when some rows were refused (the others are in).
  if (report.errors.length > 0) process.exitCode = 1;
}
