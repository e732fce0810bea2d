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
    return this.retryAfterMs(key) > 0;
  }

  /** How long until the key may try again (0: now). */
  retryAfterMs(key: string): number {
    const r = this.recent(key);
    return r.length >= this.max ? Math.max(1, r[r.length - this.max]! + this.windowMs - this.now()) : 0;
  }

  fail(key: string): void {
    this.hits.set(key, [...this.recent(key), this.now()]);
    // Bounded memory: a flood of distinct keys drops the oldest ones.
    if (this.hits.size > 100_000) this.hits.delete(this.hits.keys().next().value!);
  }
}

export interface LoginLimits {
  /** Failures a minute for one user name from one address. */
  perAddressUser: number;
  /** Failures a minute from one address, whatever the user names. */
  perAddress: number;
  windowMs: number;
  /** Failures on one account, from any address, before a delay applies. */
  accountFree: number;
  /** The first delay; each further failure doubles it... */
  accountBaseDelayMs: number;
  /** ...up to this: an account is never locked for good. */
  accountMaxDelayMs: number;
  /** An account's failures are forgotten this long after the last one, and at a successful sign-in. */
  accountForgetMs: number;
}

export const LOGIN_LIMITS: LoginLimits = {
  perAddressUser: 5,
  perAddress: 20,
  windowMs: 60_000,
  accountFree: 10,
  accountBaseDelayMs: 30_000,
  accountMaxDelayMs: 15 * 60_000,
  accountForgetMs: 24 * 60 * 60_000,
};

export type LoginVerdict = { ok: true } | { ok: false; reason: "address" | "account"; retryAfterMs: number };

/**
 * The sign-in limiter. Per address (the real one: see client-address.ts) and
 * user, per address, and per account across every address, where the delay
 * after the free tries doubles with each failure up to a ceiling: a
 * password sprayed from many addresses slows down, and the admin waits at
 * most `accountMaxDelayMs` after the last failure. While refused, nothing is
 * checked and nothing is counted, so a right password does not get through
 * and a throttled attacker does not lengthen the wait.
 */
export class LoginLimiter {
  private readonly pair: RateLimiter;
  private readonly address: RateLimiter;
  private readonly accounts = new Map<string, { count: number; last: number }>();

  constructor(private readonly limits: LoginLimits = LOGIN_LIMITS, private readonly now: () => number = Date.now) {
    this.pair = new RateLimiter(limits.perAddressUser, limits.windowMs, now);
    this.address = new RateLimiter(limits.perAddress, limits.windowMs, now);
  }

  private account(user: string): { count: number; last: number } | null {
    const a = this.accounts.get(user);
    if (a && this.now() - a.last >= this.limits.accountForgetMs) {
      this.accounts.delete(user);
      return null;
    }
    return a ?? null;
  }

  /** The wait the account's failures impose after the last one (0 while within the free tries). */
  accountDelayMs(count: number): number {
    const over = count - this.limits.accountFree;
    if (over < 0) return 0;
    return Math.min(this.limits.accountMaxDelayMs, this.limits.accountBaseDelayMs * 2 ** Math.min(over, 30));
  }

  check(address: string | null, user: string): LoginVerdict {
    const a = address ?? "unknown";
    const pairWait = Math.max(this.pair.retryAfterMs(`${a}|${user}`), this.address.retryAfterMs(a));
    if (pairWait > 0) return { ok: false, reason: "address", retryAfterMs: pairWait };
    const acc = this.account(user);
    const wait = acc ? acc.last + this.accountDelayMs(acc.count) - this.now() : 0;
    if (wait > 0) return { ok: false, reason: "account", retryAfterMs: wait };
    return { ok: true };
  }

  fail(address: string | null, user: string): void {
    const a = address ?? "unknown";
    this.pair.fail(`${a}|${user}`);
    this.address.fail(a);
    const acc = this.account(user);
    this.accounts.set(user, { count: (acc?.count ?? 0) + 1, last: this.now() });
    if (this.accounts.size > 100_000) this.accounts.delete(this.accounts.keys().next().value!);
  }

  /** A right password forgets the account's failures (not the address's). */
  succeed(user: string): void {
    this.accounts.delete(user);
  }
}
