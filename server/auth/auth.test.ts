import { describe, expect, it } from "vitest";
import { AuthStore, generatePassword, hashPassword, RateLimiter, verifyPassword } from ".";

describe("passwords", () => {
  it("hashes with scrypt and a salt, and verifies", () => {
    const h = hashPassword("s3cret!");
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(hashPassword("s3cret!")).not.toBe(h);
    expect(verifyPassword("s3cret!", h)).toBe(true);
    expect(verifyPassword("s3cret", h)).toBe(false);
    expect(verifyPassword("x", "md5$abc")).toBe(false);
    expect(generatePassword()).toMatch(/^[a-zA-Z2-9]{20}$/);
  });
});

describe("AuthStore", () => {
  it("keeps only token hashes, expires nothing early, ends all of a user's sessions", () => {
    const a = new AuthStore(":memory:");
    a.setPassword("admin", "pw");
    expect(a.checkPassword("admin", "pw")).toBe(true);
    expect(a.checkPassword("admin", "nope")).toBe(false);
    expect(a.checkPassword("ghost", "pw")).toBe(false);
    const one = a.createSession("admin");
    const two = a.createSession("admin");
    expect(one.session.id).not.toContain(one.token);
    expect(a.session(one.token)?.user).toBe("admin");
    expect(a.session("forged")).toBeNull();
    expect(a.endSessions("admin")).toBe(2);
    expect(a.session(two.token)).toBeNull();
    a.audit({ user: "admin", address: "127.0.0.1", action: "jobs.create", detail: { job: "j" } });
    expect(a.auditLog()).toEqual([expect.objectContaining({ user: "admin", action: "jobs.create", detail: { job: "j" } })]);
  });
});

describe("RateLimiter", () => {
  it("blocks after 5 failures in a minute, and forgets them after it", () => {
    let now = 0;
    const r = new RateLimiter(5, 60_000, () => now);
    for (let i = 0; i < 5; i++) {
      expect(r.blocked("k")).toBe(false);
      r.fail("k");
    }
    expect(r.blocked("k")).toBe(true);
    expect(r.blocked("other")).toBe(false);
    now = 60_001;
    expect(r.blocked("k")).toBe(false);
  });
});
