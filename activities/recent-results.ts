/**
 * Results kept for a while, at most `max` of them: past `ttlMs` one is computed again (and leaves
 * as newer ones are set), and when full the oldest goes, so keys that come from customers' data (sets of categories) cannot grow
 * the process without bound.
 */
export class RecentResults<V> {
  private readonly kept = new Map<string, { at: number; value: V }>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  get size(): number {
    return this.kept.size;
  }

  get(key: string, now: number): V | undefined {
    const kept = this.kept.get(key);
    if (!kept) return undefined;
    if (now - kept.at < this.ttlMs) return kept.value;
    this.kept.delete(key);
    return undefined;
  }

  set(key: string, value: V, now: number): void {
    // Deleted first, so the key is the newest in the map's order (which is insertion order). The
    // oldest are at the front: past the bound, or past their age, they go as new ones come, so what
    // is kept is about a ttl's worth, not up to `max` results no one will read again.
    this.kept.delete(key);
    this.kept.set(key, { at: now, value });
    for (const [oldest, kept] of this.kept) {
      if (this.kept.size <= this.max && now - kept.at < this.ttlMs) break;
      this.kept.delete(oldest);
    }
  }

  delete(key: string): void {
    this.kept.delete(key);
  }

  /** Drops every result `test` picks. */
  deleteWhere(test: (value: V) => boolean): void {
    for (const [key, kept] of this.kept) if (test(kept.value)) this.kept.delete(key);
  }
}
