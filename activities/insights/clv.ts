/**
 * Customer value models, computed openly: BG/NBD (Fader, Hardie and Lee, "Counting Your Customers
 * the Easy Way", 2005) for how many orders a customer will place and whether they are still active,
 * and Gamma-Gamma (Fader, Hardie and Lee, "RFM and CLV", 2005) for what they spend per order. Both are
 * fitted by maximum likelihood on the whole customer base; a test fits the CDNOW sample and finds the
 * published parameters. Pure arithmetic: the data comes in as each customer's purchase days.
 *
 * Time is in weeks, as in the papers.
 */
import { gammaln } from 'simple-statistics';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** What the models need of a customer: repeat purchases, when the last was, how long they have been a customer. */
export interface PurchaseSummary {
  /** Repeat purchases (days with a purchase after the first) up to the end of the period. */
  x: number;
  /** Weeks from the first purchase to the last repeat purchase (0 without one). */
  tx: number;
  /** Weeks from the first purchase to the end of the period. */
  T: number;
  /** The average value of the repeat purchases (0 without one). */
  monetary: number;
}

/**
 * A customer's purchases (time and value) summarized up to `end`: purchases on one day count as
 * one, their values summed, as in the papers.
 */
export function summarize(
  purchases: readonly { at: number; value: number }[],
  end: number,
): PurchaseSummary | undefined {
  const byDay = new Map<number, number>();
  for (const p of purchases) {
    if (p.at > end) continue;
    const day = Math.floor(p.at / DAY_MS);
    byDay.set(day, (byDay.get(day) ?? 0) + p.value);
  }
  const days = [...byDay.keys()].sort((a, b) => a - b);
  if (days.length === 0) return undefined;
  const first = days[0]!;
  const repeat = days.slice(1);
  const last = repeat.at(-1);
  return {
    x: repeat.length,
    tx: last === undefined ? 0 : ((last - first) * DAY_MS) / WEEK_MS,
    T: (Math.floor(end / DAY_MS) * DAY_MS - first * DAY_MS) / WEEK_MS,
    monetary: repeat.length ? repeat.reduce((s, d) => s + byDay.get(d)!, 0) / repeat.length : 0,
  };
}

/** ln B(a, b). */
const lbeta = (a: number, b: number) => gammaln(a) + gammaln(b) - gammaln(a + b);

function logSumExp(a: number, b: number): number {
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/** The BG/NBD log-likelihood of the customers (equation 6 of the paper). */
export function bgnbdLogLikelihood(p: BgNbdParams, customers: readonly PurchaseSummary[]): number {
  const { r, alpha, a, b } = p;
  const common = -gammaln(r) + r * Math.log(alpha) - lbeta(a, b);
  // What depends only on x, worked out once for each x: the gamma functions are most of the cost.
  const byX = new Map<number, { head: number; stays: number; left: number }>();
  let sum = 0;
  for (const c of customers) {
    let k = byX.get(c.x);
    if (!k) {
      k = {
        head: gammaln(r + c.x) + common,
        stays: lbeta(a, b + c.x),
        left: c.x > 0 ? lbeta(a + 1, b + c.x - 1) : 0,
      };
      byX.set(c.x, k);
    }
    const stays = k.stays - (r + c.x) * Math.log(alpha + c.T);
    if (c.x === 0) {
      sum += k.head + stays;
      continue;
    }
    sum += k.head + logSumExp(stays, k.left - (r + c.x) * Math.log(alpha + c.tx));
  }
  return sum;
}

export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

/** The Gamma-Gamma log-likelihood of the customers with repeat purchases. */
export function gammaGammaLogLikelihood(g: GammaGammaParams, customers: readonly PurchaseSummary[]): number {
  const { p, q, gamma } = g;
  const common = -gammaln(q) + q * Math.log(gamma);
  const byX = new Map<number, number>();
  let sum = 0;
  for (const c of customers) {
    if (c.x === 0 || c.monetary <= 0) continue;
    const px = p * c.x;
    let k = byX.get(c.x);
    if (k === undefined) {
      k = gammaln(px + q) - gammaln(px) + common + px * Math.log(c.x);
      byX.set(c.x, k);
    }
    sum += k + (px - 1) * Math.log(c.monetary) - (px + q) * Math.log(gamma + c.monetary * c.x);
  }
  return sum;
}

/**
 * Nelder and Mead's simplex method, minimizing `f` from `start`. Written here, a few lines, rather
 * than taken from a package: the npm optimizers that offer it are unmaintained.
 */
export function nelderMead(
  f: (x: number[]) => number,
  start: number[],
  options: { tolerance?: number; maxIterations?: number; step?: number } = {},
): { x: number[]; value: number; iterations: number } {
  const n = start.length;
  const tolerance = options.tolerance ?? 1e-12;
  const maxIterations = options.maxIterations ?? 20_000;
  const step = options.step ?? 0.5;
  let simplex = [start, ...start.map((_, i) => start.map((v, j) => (i === j ? v + step : v)))].map((x) => ({
    x,
    value: f(x),
  }));
  let iterations = 0;
  const along = (from: number[], to: number[], t: number) => from.map((v, i) => v + t * (to[i]! - v));
  for (; iterations < maxIterations; iterations++) {
    simplex.sort((p, q) => p.value - q.value);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.value - best.value) <= tolerance * (Math.abs(best.value) + tolerance)) break;
    const centroid = start.map((_, i) => simplex.slice(0, n).reduce((s, p) => s + p.x[i]!, 0) / n);
    const reflected = along(centroid, worst.x, -1);
    const fr = f(reflected);
    if (fr < best.value) {
      const expanded = along(centroid, worst.x, -2);
      const fe = f(expanded);
      simplex[n] = fe < fr ? { x: expanded, value: fe } : { x: reflected, value: fr };
    } else if (fr < simplex[n - 1]!.value) {
      simplex[n] = { x: reflected, value: fr };
    } else {
      const outside = fr < worst.value;
      const contracted = along(centroid, outside ? reflected : worst.x, 0.5);
      const fc = f(contracted);
      if (fc < (outside ? fr : worst.value)) {
        simplex[n] = { x: contracted, value: fc };
      } else {
        // Shrink towards the best point.
        simplex = simplex.map((p, i) => {
          if (i === 0) return p;
          const x = along(best.x, p.x, 0.5);
          return { x, value: f(x) };
        });
      }
    }
  }
  simplex.sort((p, q) => p.value - q.value);
  return { x: simplex[0]!.x, value: simplex[0]!.value, iterations };
}

/** Maximum likelihood over positive parameters: the simplex walks their logarithms, restarted once from where it stopped. */
function fitPositive(ll: (params: number[]) => number, start: number[]): { params: number[]; logLikelihood: number } {
  const f = (logs: number[]) => {
    const v = -ll(logs.map(Math.exp));
    return Number.isFinite(v) ? v : Number.MAX_VALUE;
  };
  let best = nelderMead(f, start.map(Math.log));
  best = nelderMead(f, best.x, { step: 0.1 });
  return { params: best.x.map(Math.exp), logLikelihood: -best.value };
}

export function fitBgNbd(customers: readonly PurchaseSummary[]): BgNbdParams & { logLikelihood: number } {
  const { params, logLikelihood } = fitPositive(
    ([r, alpha, a, b]) => bgnbdLogLikelihood({ r: r!, alpha: alpha!, a: a!, b: b! }, customers),
    [1, 1, 1, 1],
  );
  const [r, alpha, a, b] = params as [number, number, number, number];
  return { r, alpha, a, b, logLikelihood };
}

export function fitGammaGamma(customers: readonly PurchaseSummary[]): GammaGammaParams & { logLikelihood: number } {
  const { params, logLikelihood } = fitPositive(
    ([p, q, gamma]) => gammaGammaLogLikelihood({ p: p!, q: q!, gamma: gamma! }, customers),
    [1, 1, 1],
  );
  const [p, q, gamma] = params as [number, number, number];
  return { p, q, gamma, logLikelihood };
}

/** The chance the customer is still active at the end of their period (equation 13 of the BG/NBD paper). */
export function pAlive(m: BgNbdParams, c: Pick<PurchaseSummary, 'x' | 'tx' | 'T'>): number {
  if (c.x === 0) return 1;
  return 1 / (1 + (m.a / (m.b + c.x - 1)) * ((m.alpha + c.T) / (m.alpha + c.tx)) ** (m.r + c.x));
}

/** Gauss's hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, by its series. */
function hyp2f1(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  for (let j = 0; j < 10_000; j++) {
    term *= ((a + j) * (b + j) * z) / ((c + j) * (j + 1));
    sum += term;
    if (Math.abs(term) < 1e-14 * Math.abs(sum)) break;
  }
  return sum;
}

/** The orders the customer is expected to place in the next `weeks` (equation 10 of the BG/NBD paper). */
export function expectedPurchases(m: BgNbdParams, c: Pick<PurchaseSummary, 'x' | 'tx' | 'T'>, weeks: number): number {
  const { r, alpha, a, b } = m;
  const { x, tx, T } = c;
  const head = (a + b + x - 1) / (a - 1);
  const tail =
    1 -
    ((alpha + T) / (alpha + T + weeks)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, weeks / (alpha + T + weeks));
  const alive = x > 0 ? 1 + (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x) : 1;
  return (head * tail) / alive;
}

/** The customer's expected spend per order (Gamma-Gamma), given their repeat purchases' average. */
export function expectedSpend(
  g: GammaGammaParams,
  c: Pick<PurchaseSummary, 'x' | 'monetary'>,
  population: number,
): number {
  if (c.x === 0) return population;
  return (g.p * (g.gamma + c.x * c.monetary)) / (g.p * c.x + g.q - 1);
}

/** The population's mean spend per order under Gamma-Gamma: for a customer with no repeat purchase yet. */
export function populationSpend(g: GammaGammaParams): number {
  return (g.p * g.gamma) / (g.q - 1);
}

/**
 * Lifetime value over the next `months`: each month's expected orders times the expected spend,
 * discounted monthly at `annualDiscount`.
 */
export function lifetimeValue(
  m: BgNbdParams,
  g: GammaGammaParams,
  c: PurchaseSummary,
  options: { months?: number; annualDiscount?: number } = {},
): number {
  const months = options.months ?? 12;
  const monthly = (1 + (options.annualDiscount ?? 0.1)) ** (1 / 12) - 1;
  const spend = expectedSpend(g, c, populationSpend(g));
  const weeksPerMonth = 52 / 12;
  let value = 0;
  let before = 0;
  for (let k = 1; k <= months; k++) {
    const upTo = expectedPurchases(m, c, k * weeksPerMonth);
    value += ((upTo - before) * spend) / (1 + monthly) ** k;
    before = upTo;
  }
  return value;
}

/** Churn risk from the chance of being active: high under 0.3, medium under 0.7, else low. */
export function churnRisk(alive: number): 'low' | 'medium' | 'high' {
  return alive < 0.3 ? 'high' : alive < 0.7 ? 'medium' : 'low';
}
