/** Local times in a customer's time zone (pure: workflow code and activities both use it). */
import { DateTime } from 'luxon';
import type { Weekday } from './schema/common';

const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/**
 * The next instant, strictly after `fromMs`, at local time `time` on one of `days` in `zone`.
 * Daylight-saving changes are the time zone database's: a local time that does not exist that day
 * (spring forward) moves forward by the gap, one that exists twice (fall back) is the first.
 */
export function nextLocalTime(fromMs: number, zone: string, time: string, days?: Weekday[]): number {
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  let local = DateTime.fromMillis(fromMs, { zone });
  if (!local.isValid) local = DateTime.fromMillis(fromMs, { zone: 'UTC' });
  for (let i = 0; i <= 7; i++) {
    const day = local.plus({ days: i }).set({ hour, minute, second: 0, millisecond: 0 });
    const weekday = WEEKDAYS[day.weekday - 1]!;
    if (day.toMillis() > fromMs && (!days || days.includes(weekday))) return day.toMillis();
  }
  throw new Error(`no ${time} on ${days?.join(',') ?? 'any day'} within a week`);
}

/** Minutes since local midnight of an instant in a zone (UTC when the zone is unknown). */
function localMinutes(ms: number, zone: string): number {
  let local = DateTime.fromMillis(ms, { zone });
  if (!local.isValid) local = DateTime.fromMillis(ms, { zone: 'UTC' });
  return local.hour * 60 + local.minute;
}

export function minutesOf(time: string): number {
  const [h, m] = time.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** Whether an instant falls in a quiet window such as 21:00-08:00 (which crosses midnight). */
export function inQuietHours(ms: number, zone: string, window: { start: string; end: string }): boolean {
  const now = localMinutes(ms, zone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  if (start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}
