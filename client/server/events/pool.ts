/**
 * Runs `task` over `items` with at most `concurrency` at once. Tasks start in the order of `items`
 * (a task's synchronous part runs before the next one starts).
 */
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
