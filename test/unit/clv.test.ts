/**
 * The value models against published results: the CDNOW sample (2,357 customers), 39 weeks of
 * calibration from 1997-01-01, as in Fader, Hardie and Lee's papers on this data. Fitting by
 * maximum likelihood finds their parameters to three significant figures; the forecast of the next
 * 39 weeks is checked against an independent computation of the same formula, and set beside what
 * the customers did (the model forecasts 12 % fewer orders than they placed).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  bgnbdLogLikelihood,
  churnRisk,
  expectedPurchases,
  expectedSpend,
  fitBgNbd,
  fitGammaGamma,
  gammaGammaLogLikelihood,
  lifetimeValue,
  nelderMead,
  pAlive,
  populationSpend,
  summarize,
} from '../../activities/insights/clv';
import { projectRoot } from '../../paths';

const CALIBRATION_END = Date.UTC(1997, 8, 30);
const HOLDOUT_END = Date.UTC(1998, 5, 30);

/** The sample's purchases by customer, straight from the file. */
function purchasesByCustomer(): Map<string, { at: number; value: number }[]> {
  const file = path.join(projectRoot, '..', 'shared', 'data', 'cdnow', 'CDNOW_sample.txt');
  const out = new Map<string, { at: number; value: number }[]>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [id, , date, , dollars] = line.trim().split(/\s+/);
    if (!id || !date || !dollars) continue;
    const at = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8)));
    out.set(id, [...(out.get(id) ?? []), { at, value: Number(dollars) }]);
  }
  return out;
}

const customers = purchasesByCustomer();
const calibration = [...customers.values()].map((p) => summarize(p, CALIBRATION_END)!);
const sig3 = (v: number) => Number(v.toPrecision(3));

test('the sample as the papers count it: 2,357 customers, 946 of them buying again in the 39 weeks', () => {
  expect(calibration).toHaveLength(2357);
  expect(calibration.filter((c) => c.x > 0)).toHaveLength(946);
  // The published log-likelihood at the published parameters.
  const ll = bgnbdLogLikelihood({ r: 0.2425945, alpha: 4.4136019, a: 0.7929199, b: 2.4258881 }, calibration);
  expect(ll).toBeCloseTo(-9582.429, 2);
});

test('BG/NBD fitted by maximum likelihood: r 0.243, alpha 4.41, a 0.793, b 2.43, as published', () => {
  const fit = fitBgNbd(calibration);
  expect([fit.r, fit.alpha, fit.a, fit.b].map(sig3)).toEqual([0.243, 4.41, 0.793, 2.43]);
  expect(fit.logLikelihood).toBeCloseTo(-9582.43, 1);
});

test('Gamma-Gamma fitted on the 946 repeat buyers: p 6.25, q 3.74, gamma 15.4, as published', () => {
  const fit = fitGammaGamma(calibration);
  expect([fit.p, fit.q, fit.gamma].map(sig3)).toEqual([6.25, 3.74, 15.4]);
});

test("the forecast of the next 39 weeks: 1,653 orders at the published parameters (an independent computation's figure), against 1,882 placed", () => {
  const m = { r: 0.2425945, alpha: 4.4136019, a: 0.7929199, b: 2.4258881 };
  let expected = 0;
  let actual = 0;
  for (const purchases of customers.values()) {
    const c = summarize(purchases, CALIBRATION_END)!;
    expected += expectedPurchases(m, c, (HOLDOUT_END - CALIBRATION_END) / (7 * 86_400_000));
    actual += summarize(purchases, HOLDOUT_END)!.x - c.x;
  }
  // 1,653.41 is the sum of equation 10 computed with mpmath's hypergeometric function.
  expect(expected).toBeCloseTo(1653.41, 1);
  expect(actual).toBe(1882);
});

test('per customer: the chance of being active, churn risk, expected spend and a year of value behave as they must', () => {
  const m = fitBgNbd(calibration);
  const g = fitGammaGamma(calibration);
  // Bought twice, the last time long ago: less likely active than one who bought as recently.
  const lapsing = pAlive(m, { x: 2, tx: 5, T: 38 });
  const recent = pAlive(m, { x: 2, tx: 37, T: 38 });
  expect(lapsing).toBeLessThan(recent);
  expect(churnRisk(lapsing)).toBe('high');
  expect(churnRisk(recent)).toBe('low');
  // No repeat purchase: the model cannot tell they left.
  expect(pAlive(m, { x: 0, tx: 0, T: 38 })).toBe(1);
  // Spend shrinks from the customer's own average towards the population's.
  const own = expectedSpend(g, { x: 1, monetary: 200 }, populationSpend(g));
  expect(own).toBeLessThan(200);
  expect(own).toBeGreaterThan(populationSpend(g));
  const value = lifetimeValue(m, g, { x: 4, tx: 36, T: 38, monetary: 40 });
  expect(value).toBeGreaterThan(lifetimeValue(m, g, { x: 4, tx: 10, T: 38, monetary: 40 }));
  expect(value).toBeGreaterThan(0);
});

test('the simplex method finds the minimum of a curved valley (Rosenbrock: 1, 1)', () => {
  const rosenbrock = ([x, y]: number[]) => (1 - x!) ** 2 + 100 * (y! - x! ** 2) ** 2;
  const { x, value } = nelderMead(rosenbrock, [-1.2, 1]);
  expect(x[0]).toBeCloseTo(1, 4);
  expect(x[1]).toBeCloseTo(1, 4);
  expect(value).toBeLessThan(1e-9);
});

test('the fitted Gamma-Gamma parameters are the likeliest: any nearby set is less likely', () => {
  const fit = fitGammaGamma(calibration);
  const best = gammaGammaLogLikelihood(fit, calibration);
  for (const [dp, dq, dg] of [
    [1.01, 1, 1],
    [1, 0.99, 1],
    [1, 1, 1.01],
  ] as const) {
    expect(gammaGammaLogLikelihood({ p: fit.p * dp, q: fit.q * dq, gamma: fit.gamma * dg }, calibration)).toBeLessThan(
      best,
    );
  }
});
