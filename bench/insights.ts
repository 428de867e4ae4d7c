/**
 * The value models at the size of a real customer base: BG/NBD and Gamma-Gamma fitted on the whole of
 * CDNOW_master.txt (23,570 customers, 39 weeks of calibration from 1997-01-01), and 1,000,000
 * customers scored (chance of being active, orders expected in 90 days, a year's discounted value).
 */
import path from 'node:path';
import {
  churnRisk,
  expectedPurchases,
  fitBgNbd,
  fitGammaGamma,
  lifetimeValue,
  pAlive,
  type PurchaseSummary,
  summarize,
} from '../activities/insights/clv';
import { projectRoot } from '../paths';
import { readCdnow } from '../scripts/cdnow';
import { type BenchContext, type Figure, round } from './common';

const CALIBRATION_END = Date.UTC(1997, 8, 30);

export function insightsBench(ctx: BenchContext): Promise<Figure[]> {
  const which = ctx.quick ? 'sample' : 'master';
  const file = path.join(projectRoot, '..', 'shared', 'data', 'cdnow', `CDNOW_${which}.txt`);
  const byCustomer = new Map<string, { at: number; value: number }[]>();
  for (const p of readCdnow(file)) {
    const at = Date.UTC(Number(p.date.slice(0, 4)), Number(p.date.slice(4, 6)) - 1, Number(p.date.slice(6, 8)));
    byCustomer.set(p.customer, [...(byCustomer.get(p.customer) ?? []), { at, value: p.dollars }]);
  }
  const summaries = [...byCustomer.values()].map((p) => summarize(p, CALIBRATION_END)!);
  ctx.progress(`insights: fitting BG/NBD and Gamma-Gamma on ${summaries.length.toLocaleString('en')} customers`);
  let t = performance.now();
  const m = fitBgNbd(summaries);
  const g = fitGammaGamma(summaries);
  const fitSeconds = (performance.now() - t) / 1000;

  const n = ctx.n(1_000_000, 20_000);
  // Customers drawn from the fitted base, in turn, as many as asked for.
  const scored: PurchaseSummary[] = Array.from({ length: n }, (_, i) => summaries[i % summaries.length]!);
  ctx.progress(`insights: scoring ${n.toLocaleString('en')} customers`);
  t = performance.now();
  let risky = 0;
  let value = 0;
  for (const [i, c] of scored.entries()) {
    const alive = pAlive(m, c);
    expectedPurchases(m, c, 90 / 7);
    value += lifetimeValue(m, g, c);
    if (churnRisk(alive) === 'high') risky++;
    if ((i + 1) % 200_000 === 0) ctx.progress(`insights: ${(i + 1).toLocaleString('en')} scored`);
  }
  const scoreSeconds = (performance.now() - t) / 1000;
  return Promise.resolve([
    {
      benchmark: 'insights',
      name: `fit BG/NBD and Gamma-Gamma, ${summaries.length.toLocaleString('en')} customers`,
      value: round(fitSeconds, 2),
      unit: 's',
      note: `CDNOW_${which}.txt; r ${m.r.toPrecision(3)}, alpha ${m.alpha.toPrecision(3)}, a ${m.a.toPrecision(3)}, b ${m.b.toPrecision(3)}; p ${g.p.toPrecision(3)}, q ${g.q.toPrecision(3)}, gamma ${g.gamma.toPrecision(3)}`,
    },
    {
      benchmark: 'insights',
      name: `score ${n.toLocaleString('en')} customers (P(active), 90-day orders, 12-month value)`,
      value: round(scoreSeconds, 2),
      unit: 's',
      note: `${round(n / scoreSeconds)} a second; ${risky.toLocaleString('en')} at high churn risk; mean value ${round(value / n, 2)}`,
    },
  ]);
}
