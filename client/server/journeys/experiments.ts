/**
 * The arithmetic of comparing goal rates: a proportion's 95 % interval (Wilson), the difference of
 * two with its interval (Newcombe's, from the two Wilson intervals) and a two-proportion z-test, and
 * the sample size a difference needs. Plain functions, unit-tested against published values.
 */
import { errorFunction } from 'simple-statistics';

/** z for a two-sided 95 % interval. */
const Z_95 = 1.959963984540054;
/** z for 80 % power. */
const Z_POWER_80 = 0.8416212335729143;

/** The standard normal distribution function. */
function normalCdf(x: number): number {
  return 0.5 * (1 + errorFunction(x / Math.SQRT2));
}

/** The normal quantile, by bisection on normalCdf (only for the few alphas a report uses). */
function normalQuantile(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** A proportion's Wilson score interval: good with few customers and with rates near 0 or 1. */
export function wilson(successes: number, n: number, z = Z_95): [number, number] {
  if (n === 0) return [0, 1];
  const p = Math.min(1, successes / n);
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export interface Comparison {
  /** Rate of a minus rate of b. */
  difference: number;
  /** Its interval at the comparison's level, 1 - alpha (Newcombe's hybrid score interval). */
  interval: [number, number];
  /** Two-sided, from the pooled two-proportion z-test; null when neither or both always convert. */
  pValue: number | null;
  /**
   * How many customers each side needs for a difference of the size seen to be found at this
   * alpha with 80 % power; null when no difference is seen.
   */
  neededPerSide: number | null;
  /** Whether the difference is real by the rule of `compare`. */
  significant: boolean;
}

/**
 * Compares two goal rates. Significant only when the p-value is under `alpha` and both sides have
 * reached the sample size that a difference of the size seen needs: looking at a running
 * experiment again and again makes an early p-value under 0.05 likely by chance, and waiting for
 * the needed size keeps such an early look from naming a winner.
 */
export function compare(a: { goals: number; n: number }, b: { goals: number; n: number }, alpha = 0.05): Comparison {
  const pa = a.n > 0 ? a.goals / a.n : 0;
  const pb = b.n > 0 ? b.goals / b.n : 0;
  const difference = pa - pb;
  // At the comparison's own level, so an interval clear of 0 and a verdict of significant agree.
  const z = alpha === 0.05 ? Z_95 : normalQuantile(1 - alpha / 2);
  const [la, ua] = wilson(a.goals, a.n, z);
  const [lb, ub] = wilson(b.goals, b.n, z);
  const interval: [number, number] = [
    difference - Math.sqrt((pa - la) ** 2 + (ub - pb) ** 2),
    difference + Math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2),
  ];
  let pValue: number | null = null;
  if (a.n > 0 && b.n > 0) {
    const pooled = (a.goals + b.goals) / (a.n + b.n);
    const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.n + 1 / b.n));
    if (se > 0) pValue = Math.min(1, 2 * (1 - normalCdf(Math.abs(difference) / se)));
  }
  const neededPerSide = sampleSize(pa, pb, alpha);
  const significant =
    pValue !== null && pValue < alpha && neededPerSide !== null && a.n >= neededPerSide && b.n >= neededPerSide;
  return { difference, interval, pValue, neededPerSide, significant };
}

/** Customers per side to find the difference between rates p1 and p2 (two-sided alpha, 80 % power). */
export function sampleSize(p1: number, p2: number, alpha = 0.05): number | null {
  const d = Math.abs(p1 - p2);
  if (d === 0) return null;
  const zAlpha = alpha === 0.05 ? Z_95 : normalQuantile(1 - alpha / 2);
  const mean = (p1 + p2) / 2;
  const root = zAlpha * Math.sqrt(2 * mean * (1 - mean)) + Z_POWER_80 * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((root * root) / (d * d));
}
