/**
 * Durations as journeys write them: `90m`, `36h`, `3d`, `2w`, `1d12h`, `45s`. Units, largest first:
 * w (7 days), d, h, m, s. A day is 24 hours of elapsed time.
 */
const UNIT_MS = { w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const;
const DURATION = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export const DURATION_HINT = 'a duration such as 90m, 36h, 3d, 2w or 1d12h (units w, d, h, m, s, largest first)';

/** Milliseconds of a duration, or undefined when the text is not one. Zero is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === '') return undefined;
  const [, w, d, h, min, s] = m;
  const ms =
    Number(w ?? 0) * UNIT_MS.w +
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(min ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s;
  return ms > 0 ? ms : undefined;
}

/** Like parseDuration, for text that validation has already accepted. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`"${text}" is not ${DURATION_HINT}`);
  return ms;
}

/** The shortest spelling of a duration in the journey format, for messages and graphs. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out || '0s';
}
