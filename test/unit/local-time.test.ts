/** `wait until` a local time: the next such time in the customer's zone, across daylight-saving changes. */
import { nextLocalTime } from '../../workflows/steps/wait';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

test('the next 10:00 in New York, same day or next', () => {
  expect(iso(nextLocalTime(at('2026-06-10T12:00:00Z'), 'America/New_York', '10:00'))).toBe('2026-06-10T14:00:00.000Z');
  expect(iso(nextLocalTime(at('2026-06-10T15:00:00Z'), 'America/New_York', '10:00'))).toBe('2026-06-11T14:00:00.000Z');
});

test('only on the given days', () => {
  // 2026-06-12 is a Friday; the next weekday 09:00 in Paris is Monday 2026-06-15.
  expect(
    iso(nextLocalTime(at('2026-06-12T10:00:00Z'), 'Europe/Paris', '09:00', ['mon', 'tue', 'wed', 'thu', 'fri'])),
  ).toBe('2026-06-15T07:00:00.000Z');
  expect(iso(nextLocalTime(at('2026-06-12T10:00:00Z'), 'Europe/Paris', '09:00', ['sun']))).toBe(
    '2026-06-14T07:00:00.000Z',
  );
});

test('across the spring change, 09:00 local moves from 14:00 to 13:00 UTC', () => {
  // New York moves from EST (UTC-5) to EDT (UTC-4) on 2026-03-08.
  expect(iso(nextLocalTime(at('2026-03-07T15:00:00Z'), 'America/New_York', '09:00'))).toBe('2026-03-08T13:00:00.000Z');
  expect(iso(nextLocalTime(at('2026-03-06T15:00:00Z'), 'America/New_York', '09:00'))).toBe('2026-03-07T14:00:00.000Z');
});

test('a local time that does not exist on the spring-forward day moves forward by the gap', () => {
  // 02:30 does not exist in New York on 2026-03-08 (02:00 jumps to 03:00).
  expect(iso(nextLocalTime(at('2026-03-08T05:00:00Z'), 'America/New_York', '02:30'))).toBe('2026-03-08T07:30:00.000Z');
});

test('a local time that happens twice on the fall-back day is the first one', () => {
  // 01:30 happens twice in New York on 2026-11-01; the first is EDT (UTC-4).
  expect(iso(nextLocalTime(at('2026-11-01T04:00:00Z'), 'America/New_York', '01:30'))).toBe('2026-11-01T05:30:00.000Z');
});

test('an unknown time zone falls back to UTC', () => {
  expect(iso(nextLocalTime(at('2026-06-10T08:00:00Z'), 'Mars/Olympus', '09:00'))).toBe('2026-06-10T09:00:00.000Z');
});
