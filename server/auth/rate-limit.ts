/** At most `max` failures per key in a sliding window (login: 5 a minute per address and user). */
export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  constructor(private readonly max = 5, private readonly windowMs = 60_000, private readonly now: () => number = Date.now) {}

  private recent(key: string): number[] {
    const t = this.now();
    const recent = (this.hits.get(key) ?? []).filter((x) => t - x < this.windowMs);
    if (recent.length) this.hits.set(key, recent);
    else this.hits.delete(key);
    return recent;
  }

  /** Whether the key used up its tries: then even a right password is refused until the window passes. */
  blocked(key: string): boolean {
    return this.recent(key).length >= this.max;
  }

  fail(key: string): void {
    this.hits.set(key, [...this.recent(key), this.now()]);
  }
}
