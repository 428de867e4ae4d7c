/**
 * `rapport report`: the journey report as a table with bars, as JSON, or as an SVG funnel; and
 * `rapport insights`: the customer value models.
 */
import { funnelSvg } from '../../server/journeys/report-svg';
import fs from 'node:fs';
import type { FittedModels, JourneyReport } from '../../sdk';
import { clientFrom, type ConnectionOptions } from './connection';

const BAR = 24;

function bar(n: number, of: number): string {
  const width = of > 0 ? Math.round((BAR * n) / of) : 0;
  return '█'.repeat(width) + '·'.repeat(BAR - width);
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} days`;
}

/** The report as people read it in a terminal. */
export function formatReport(r: JourneyReport): string {
  const range = [r.since ? `from ${r.since}` : '', r.until ? `until ${r.until}` : ''].filter(Boolean).join(' ');
  const lines = [
    `${r.journey}, ${r.version === null ? 'all versions' : `version ${r.version}`}${range ? `, ${range}` : ''}`,
    `entered ${r.entered}`,
    '',
    'steps (enrollments that reached each, and what came of it):',
  ];
  const width = Math.max(...r.steps.map((s) => s.depth * 2 + s.id.length), 4);
  for (const s of r.steps) {
    const name = `${'  '.repeat(s.depth)}${s.id}`.padEnd(width);
    lines.push(`  ${name} ${bar(s.reached, r.entered)} ${String(s.reached).padStart(7)}  ${s.type}`);
    for (const o of s.outcomes) {
      lines.push(`  ${' '.repeat(width)}   ${o.outcome}: ${o.count}`);
    }
  }
  if (r.messages.length > 0) {
    lines.push('', 'messages:');
    for (const m of r.messages) {
      lines.push(`  ${m.channel} ${m.status}${m.heldBy ? ` (${m.heldBy.replace('_', ' ')})` : ''}: ${m.count}`);
    }
  }
  if (r.goal) {
    const g = r.goal;
    lines.push(
      '',
      `goal (${g.event}): ${g.met} of ${r.entered}, ${pct(g.rate)} (95 % interval ${pct(g.interval[0])} to ${pct(g.interval[1])})` +
        (g.medianMs !== null ? `, median ${duration(g.medianMs)} after entering` : ''),
    );
  }
  const ended = Object.entries(r.ended);
  if (ended.length > 0) lines.push('', `ended: ${ended.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (r.exits.length > 0) lines.push(`exits: ${r.exits.map((e) => `${e.reason} ${e.count}`).join(', ')}`);
  if (r.unsubscribes.length > 0) {
    lines.push(`unsubscribes: ${r.unsubscribes.map((u) => `${u.step} (${u.channel}) ${u.count}`).join(', ')}`);
  }
  if (r.holdout) {
    const { treated, heldOut, lift } = r.holdout;
    const rate = (g: typeof treated) =>
      `${g.goalMet} of ${g.entered}, ${pct(g.rate)} (${pct(g.interval[0])} to ${pct(g.interval[1])})`;
    lines.push(
      '',
      `holdout${r.holdout.share ? ` ${r.holdout.share}` : ''} (the journey's sends against none):`,
      `  treated: ${rate(treated)}`,
      `  held out: ${rate(heldOut)}${heldOut.byGlobal > 0 ? `, ${heldOut.byGlobal} by the global holdout` : ''}`,
      `  lift: ${(lift.difference * 100).toFixed(1)} points (${(lift.interval[0] * 100).toFixed(1)} to ${(lift.interval[1] * 100).toFixed(1)})` +
        `${lift.pValue !== null ? `, p = ${lift.pValue.toPrecision(2)}` : ''}: ${lift.verdict}`,
    );
  }
  for (const x of r.experiments) {
    lines.push('', `split ${x.split}:`);
    for (const p of x.paths) {
      lines.push(
        `  ${p.path}${p.holdout ? ' (holdout)' : ''}: ${p.goalMet} of ${p.entered}, ${pct(p.rate)} (${pct(p.interval[0])} to ${pct(p.interval[1])})`,
      );
    }
    for (const c of x.comparisons) {
      lines.push(
        `  ${c.path} - ${c.against}: ${(c.difference * 100).toFixed(1)} points (${(c.interval[0] * 100).toFixed(1)} to ${(c.interval[1] * 100).toFixed(1)})` +
          `${c.pValue !== null ? `, p = ${c.pValue.toPrecision(2)}` : ''}: ${c.verdict}`,
      );
    }
  }
  for (const note of r.notes) lines.push('', `note: ${note}`);
  return lines.join('\n');
}

export async function reportCommand(
  journey: string,
  options: ConnectionOptions & { json?: boolean; svg?: string; version?: string; since?: string; until?: string },
) {
  const report = await clientFrom(options).journeyReport(journey, {
    ...(options.version ? { version: Number(options.version) } : {}),
    since: options.since,
    until: options.until,
  });
  if (options.svg) fs.writeFileSync(options.svg, funnelSvg(report));
  process.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
}

function formatModels(m: FittedModels): string {
  const p = (v: number) => v.toPrecision(3);
  return [
    `customer value models, fitted ${m.fittedAt} on ${m.customers} customers' orders up to ${m.periodEnd}`,
    `  BG/NBD (orders, and whether still active): r ${p(m.bgnbd.r)}, alpha ${p(m.bgnbd.alpha)}, a ${p(m.bgnbd.a)}, b ${p(m.bgnbd.b)}`,
    `  Gamma-Gamma (spend per order): p ${p(m.gammaGamma.p)}, q ${p(m.gammaGamma.q)}, gamma ${p(m.gammaGamma.gamma)}`,
    "  each customer's predictions: customer.predicted in journeys, and rapport customers show",
  ].join('\n');
}

/** `rapport insights fit|show`: fit the customer value models now, or show the newest fit. */
export async function insightsCommand(
  action: 'fit' | 'show',
  options: ConnectionOptions & { json?: boolean; asOf?: string },
) {
  const client = clientFrom(options);
  if (action === 'fit' && !options.json)
    process.stderr.write('fitting the customer value models on every customer’s orders…\n');
  const fitted = action === 'fit' ? await client.fitInsights(options.asOf) : undefined;
  const m = fitted ?? (await client.insights());
  process.stdout.write(`${options.json ? JSON.stringify(m, null, 2) : formatModels(m)}\n`);
  const refresh = fitted?.refresh;
  if (!options.json && refresh) {
    process.stdout.write(
      `following every customer's segments and lifecycle stage in the background: workflow ${refresh.workflowId}\n`,
    );
  }
}
