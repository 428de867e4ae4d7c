/** The recommendation cache: bounded in size and in age, so customers' data cannot grow it for ever. */
import { RecentResults } from '../../activities/recent-results';

test('keeps at most its bound, dropping the least recently set first', () => {
  const recent = new RecentResults<number>(3, 60_000);
  for (let i = 0; i < 10_000; i++) recent.set(`set-${i}`, i, 0);
  expect(recent.size).toBe(3);
  expect(recent.get('set-9999', 1)).toBe(9999);
  expect(recent.get('set-0', 1)).toBeUndefined();
  // Setting a kept key again makes it the newest: the next one in pushes out another.
  recent.set('set-9997', 1, 2);
  recent.set('new', 2, 3);
  expect(recent.get('set-9997', 4)).toBe(1);
  expect(recent.get('set-9998', 4)).toBeUndefined();
});

test('a result past its age is computed again, and is no longer kept', () => {
  const recent = new RecentResults<string>(10, 60_000);
  recent.set('rock', 'jazz', 1_000);
  expect(recent.get('rock', 60_999)).toBe('jazz');
  expect(recent.get('rock', 61_000)).toBeUndefined();
  expect(recent.size).toBe(0);
});

test('results past their age leave as newer ones are set, though never read again', () => {
  const recent = new RecentResults<number>(10_000, 60_000);
  for (let i = 0; i < 100; i++) recent.set(`old-${i}`, i, 0);
  recent.set('new', 1, 59_999);
  expect(recent.size).toBe(101);
  recent.set('newer', 2, 60_000);
  expect(recent.size).toBe(2);
  expect(recent.get('new', 60_000)).toBe(1);
  expect(recent.get('newer', 60_000)).toBe(2);
});

test('drops the results a test picks', () => {
  const recent = new RecentResults<{ id: string }>(10, 60_000);
  recent.set('a', { id: 'k1' }, 0);
  recent.set('b', { id: 'k2' }, 0);
  recent.set('c', { id: 'k1' }, 0);
  recent.deleteWhere((v) => v.id === 'k1');
  expect(recent.size).toBe(1);
  expect(recent.get('b', 1)).toEqual({ id: 'k2' });
});
