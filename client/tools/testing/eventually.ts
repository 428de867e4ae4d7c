/**
 * Waiting in tests for something that happens on its own time (a worker, a server, another process):
 * read it again and again until it is what the test waits for, and if it never gets there, fail
 * with what was waited for and the last value seen. Never a fixed sleep, never a silent give-up.
 *
 *   const task = await eventually('a support task', () => openTasks(customerId), { until: (t) => t.length > 0 });
 */

export interface EventuallyOptions<T> {
  /** Whether the value read is the one waited for; default: it is neither undefined, null nor false. */
  until?: (value: T) => boolean;
  /** How long to keep reading before failing, in ms (default 60 s: generous for a loaded machine). */
  timeoutMs?: number;
  /** The pause between two reads, in ms (default 25). */
  everyMs?: number;
}

class EventuallyTimeout extends Error {
  constructor(
    readonly what: string,
    readonly lastValue: unknown,
    readonly lastError: unknown,
    timeoutMs: number,
  ) {
    super(
      `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last value: ${describe(lastValue)}` +
        (lastError ? `; last error: ${lastError instanceof Error ? lastError.message : describe(lastError)}` : ''),
    );
    this.name = 'EventuallyTimeout';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    const text = JSON.stringify(value);
    return text.length > 2000 ? `${text.slice(0, 2000)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const settled = <T>(value: T): boolean => value !== undefined && value !== null && value !== false;

/**
 * Reads until `until` holds and returns that value. A read that throws counts as not yet (its error
 * is reported if time runs out). Without `until`, waits for a value that is there (not undefined,
 * null or false) and returns it.
 */
export async function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  options: EventuallyOptions<T> & Required<Pick<EventuallyOptions<T>, 'until'>>,
): Promise<T>;
export async function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  options?: Omit<EventuallyOptions<T>, 'until'>,
): Promise<Exclude<T, undefined | null | false>>;
export async function eventually<T>(
  what: string,
  read: () => T | Promise<T>,
  options: EventuallyOptions<T> = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const until = options.until ?? settled;
  const deadline = Date.now() + timeoutMs;
  let lastValue: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      lastValue = await read();
      lastError = undefined;
      if (until(lastValue)) return lastValue;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw new EventuallyTimeout(what, lastValue, lastError, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 25));
  }
}
