import { durationMs, formatDuration, parseDuration } from '../../definitions/duration';

test.each([
  ['90m', 90 * 60_000],
  ['36h', 36 * 3_600_000],
  ['3d', 3 * 86_400_000],
  ['2w', 14 * 86_400_000],
  ['1d12h', 36 * 3_600_000],
  ['45s', 45_000],
  ['1w2d3h4m5s', ((9 * 24 + 3) * 60 + 4) * 60_000 + 5000],
])('%s is %d ms', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
  expect(parseDuration(formatDuration(ms))).toBe(ms);
});

test.each(['', '3', 'd', '3 days', '12h1d', '-1d', '0d', '1.5h', '3D'])('%j is not a duration', (text) => {
  expect(parseDuration(text)).toBeUndefined();
});

test('durationMs names what was expected', () => {
  expect(() => durationMs('soon')).toThrow('"soon" is not a duration such as 90m');
});

test('formatDuration writes the shortest spelling', () => {
  expect(formatDuration(36 * 3_600_000)).toBe('1d12h');
  expect(formatDuration(90 * 60_000)).toBe('1h30m');
});
