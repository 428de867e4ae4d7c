/**
 * `rapport customers show|list|export` and `rapport explain`: one customer, everything Rapport knows
 * and did; the customers a filter finds, ranked.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import type { CustomerListOptions, ListedCustomer } from '../../sdk';
import { clientFrom, type ConnectionOptions } from './connection';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export async function customersShow(ref: string, options: ConnectionOptions & { json?: boolean }) {
  const d = await clientFrom(options).getCustomer(ref);
  if (options.json) return out(JSON.stringify(d, null, 2));
  const c = d.customer;
  const consent = Object.entries(c.consent).flatMap(([ch, p]) =>
    Object.entries(p).map(([purpose, g]) => `${ch} ${purpose} ${g ? 'yes' : 'no'}`),
  );
  // Topics chosen or left; a topic not listed is subscribed (an older server sends none).
  const topics = Object.entries(c.topics ?? {}).flatMap(([ch, t]) =>
    Object.entries(t).map(([topic, s]) => `${ch} ${topic} ${s ? 'yes' : 'no'}`),
  );
  out(
    [
      `${[c.firstName, c.lastName].filter(Boolean).join(' ') || '(no name)'} (${c.id})`,
      `  email ${c.email ?? '-'}, phone ${c.phone ?? '-'}, ${c.timezone}, ${c.locale}, prefers ${c.preferredChannel ?? 'no channel'}`,
      `  lifecycle ${c.lifecycleStage}; tags ${c.tags.join(', ') || '-'}`,
      `  orders ${c.metrics.orderCount}, lifetime value ${c.metrics.lifetimeValue.toFixed(2)}, last order ${c.metrics.lastOrderAt?.slice(0, 10) ?? '-'}`,
      `  identities: ${d.identities.map((i) => `${i.kind}=${i.value}`).join(', ') || '-'}`,
      `  consent: ${consent.join(', ') || 'none recorded'}`,
      ...(topics.length > 0 ? [`  topics: ${topics.join(', ')}`] : []),
      'enrollments:',
      ...d.enrollments.map(
        (e) =>
          `  ${e.journeyId} v${e.version}: ${e.status}${e.currentStep && e.status === 'active' ? ` at ${e.currentStep}` : ''}${e.goalMet ? ', goal met' : ''}`,
      ),
      'timeline:',
      ...d.timeline.map((t) => `  ${t.at.replace('T', ' ').slice(0, 16)}  ${t.kind.padEnd(10)} ${t.summary}`),
    ].join('\n'),
  );
}

export async function explainCommand(
  ref: string,
  journey: string | undefined,
  options: ConnectionOptions & { json?: boolean },
) {
  const x = await clientFrom(options).explain(ref, journey);
  if (options.json) return out(JSON.stringify(x, null, 2));
  if (x.enrollments.length === 0) return out(`${x.customerId} has not been in ${journey ?? 'any journey'}`);
  const lines: string[] = [];
  for (const e of x.enrollments) {
    lines.push(
      `${e.journey} v${e.version} (${e.status}${e.outcome && e.status !== 'active' ? `: ${e.outcome}` : ''}${e.goalMet ? ', goal met' : ''}), since ${e.startedAt.slice(0, 16).replace('T', ' ')}`,
    );
    if (e.status === 'active')
      lines.push(`  now at ${e.currentStep ?? '?'}${e.waitingFor ? `, waiting for ${e.waitingFor}` : ''}`);
    for (const m of e.messages)
      lines.push(
        `  ${m.step} (${m.channel}): ${m.outcome}${m.at ? ` at ${m.at.slice(0, 16).replace('T', ' ')}` : ''}: ${m.why}`,
      );
  }
  out(lines.join('\n'));
}

interface ListOptions extends ConnectionOptions {
  where?: string;
  sort?: string;
  order?: string;
}

const query = (o: ListOptions): CustomerListOptions => ({
  ...(o.where ? { where: o.where } : {}),
  ...(o.sort ? { sort: o.sort as NonNullable<CustomerListOptions['sort']> } : {}),
  ...(o.order ? { order: o.order as NonNullable<CustomerListOptions['order']> } : {}),
});

const money = (v: number) => v.toFixed(2);

/** `rapport customers list`: one page, as a table (or JSON). */
export async function customersList(options: ListOptions & { limit?: string; json?: boolean }) {
  const page = await clientFrom(options).listCustomers({
    ...query(options),
    ...(options.limit ? { limit: Number(options.limit) } : {}),
  });
  if (options.json) return out(JSON.stringify(page, null, 2));
  const rows = [
    ['ID', 'NAME / EMAIL', 'STAGE', 'ORDERS', 'REVENUE', 'CLV', 'RFM'],
    ...page.customers.map((c) => [
      c.id,
      [c.firstName, c.lastName].filter(Boolean).join(' ') || c.email || c.phone || '-',
      c.lifecycleStage,
      String(c.metrics.orderCount),
      money(c.metrics.lifetimeValue),
      money(c.predicted.clv),
      c.rfm.segment,
    ]),
  ];
  const numeric = new Set([3, 4, 5]);
  const widths = rows.reduce((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), [] as number[]);
  const lines = rows.map((r) =>
    r
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
  if (page.customers.length === 0) lines.push('no customers found');
  else if (page.next) lines.push(`more: rapport customers export, or the API with cursor=${page.next}`);
  out(lines.join('\n'));
}

/** The columns of a CSV export, each with how to read it from a customer. */
type CsvValue = string | number | null;

const CSV_COLUMNS: [string, (c: ListedCustomer) => CsvValue][] = [
  ['id', (c) => c.id],
  ['email', (c) => c.email],
  ['phone', (c) => c.phone],
  ['firstName', (c) => c.firstName],
  ['lastName', (c) => c.lastName],
  ['lifecycleStage', (c) => c.lifecycleStage],
  ['tags', (c) => c.tags.join(' ')],
  ['orderCount', (c) => c.metrics.orderCount],
  ['lifetimeValue', (c) => c.metrics.lifetimeValue],
  ['firstOrderAt', (c) => c.metrics.firstOrderAt],
  ['lastOrderAt', (c) => c.metrics.lastOrderAt],
  ['pAlive', (c) => c.predicted.pAlive],
  ['clv', (c) => c.predicted.clv],
  ['churnRisk', (c) => c.predicted.churnRisk],
  ['rfmRecency', (c) => c.rfm.recency],
  ['rfmFrequency', (c) => c.rfm.frequency],
  ['rfmMonetary', (c) => c.rfm.monetary],
  ['rfmScore', (c) => c.rfm.score],
  ['rfmSegment', (c) => c.rfm.segment],
];

/**
 * One CSV field as RFC 4180 writes it: in double quotes, with each inner quote doubled, when it
 * holds a comma, a quote or a line break (or starts or ends with a space, which readers may trim).
 */
function csvField(value: CsvValue): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvLine = (fields: CsvValue[]) => `${fields.map(csvField).join(',')}\r\n`;

/** `rapport customers export`: every customer the filter finds, page by page, as CSV or JSON lines. */
export async function customersExport(options: ListOptions & { format: 'csv' | 'jsonl'; out?: string }) {
  const sink = options.out ? fs.createWriteStream(options.out) : process.stdout;
  const write = async (text: string) => {
    if (!sink.write(text)) await once(sink, 'drain');
  };
  if (options.format === 'csv') await write(csvLine(CSV_COLUMNS.map(([name]) => name)));
  const progress = (count: number) => process.stderr.write(`exported ${count.toLocaleString('en-US')} customers…\n`);
  for await (const c of clientFrom(options).allCustomers({ ...query(options), limit: 1000 }, progress)) {
    await write(options.format === 'csv' ? csvLine(CSV_COLUMNS.map(([, read]) => read(c))) : `${JSON.stringify(c)}\n`);
  }
  if (sink !== process.stdout) {
    const file = sink as fs.WriteStream;
    file.end();
    await once(file, 'finish');
  }
}
