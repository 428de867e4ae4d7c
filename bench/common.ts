/** What every benchmark shares: the dev server, timing, percentiles, progress. */
import { devServerEnv } from '../client/testing/environment';

export interface Figure {
  benchmark: string;
  name: string;
  value: number;
  unit: string;
  /** How it was measured, in a few words. */
  note?: string;
}

export interface BenchContext {
  quick: boolean;
  /** Scales a count: the full figure, or a small one in quick mode. */
  n(full: number, quick: number): number;
  progress(text: string): void;
}

/** The Temporal dev server, as Rapport runs it on one machine (SQLite when a file is given). */
export const devServer = devServerEnv;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Runs `task` over `items` with at most `concurrency` at once. */
export async function pool<T>(items: T[], concurrency: number, task: (item: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i]!, i);
      }
    }),
  );
}

export async function until(what: string, done: () => Promise<boolean>, timeoutMs: number, every = 100) {
  const end = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
