import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { loadConfig } from "../shares";
import { clientOf, SqliteAuthStore, generatePassword, hashPassword, LOGIN_LIMITS, LoginLimiter, normalizeAddress, RateLimiter, sessionTokens, TrustedProxy, trustList, verifyPassword } from ".";

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

describe("accounts and roles", () => {
  // The store's contract (accounts, sessions, audit) runs on SQLite and PostgreSQL in test/server/store-contract.test.ts.
  it("upgrades a store from before roles: the one account is an admin", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "ferry-auth-")), "ferry.db");
    const db = new Database(file);
    db.exec("CREATE TABLE users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at INTEGER NOT NULL)");
    db.prepare("INSERT INTO users VALUES (?, ?, ?)").run("admin", hashPassword("old"), 1);
    db.close();
    const a = new SqliteAuthStore(file);
    expect(await a.users()).toEqual([expect.objectContaining({ name: "admin", role: "admin" })]);
    expect(await a.checkPassword("admin", "old")).toBe(true);
    await a.close();
  });
});

describe("LoginLimiter", () => {
  it("5 failures a minute per address and user; then even the right password waits for the window", () => {
    let now = 1_000_000;
    const l = new LoginLimiter(LOGIN_LIMITS, () => now);
    for (let i = 0; i < 5; i++) {
      expect(l.check("10.0.0.9", "admin")).toEqual({ ok: true });
      l.fail("10.0.0.9", "admin");
      now += 1000;
    }
    expect(l.check("10.0.0.9", "admin")).toMatchObject({ ok: false, reason: "address", retryAfterMs: 55_000 });
    expect(l.check("10.0.0.8", "admin")).toEqual({ ok: true });
    now += 54_999;
    expect(l.check("10.0.0.9", "admin").ok).toBe(false);
    now += 1;
    expect(l.check("10.0.0.9", "admin")).toEqual({ ok: true });
  });

  it("caps one address across user names", () => {
    let now = 0;
    const l = new LoginLimiter(LOGIN_LIMITS, () => now);
    for (let i = 0; i < 20; i++) {
      expect(l.check("10.0.0.9", `user${i}`).ok).toBe(true);
      l.fail("10.0.0.9", `user${i}`);
    }
    expect(l.check("10.0.0.9", "user99")).toMatchObject({ ok: false, reason: "address" });
    now += 60_000;
    expect(l.check("10.0.0.9", "user99").ok).toBe(true);
  });

  it("caps an account across addresses with a delay that doubles, up to 15 minutes, never for good", () => {
    let now = 0;
    const l = new LoginLimiter(LOGIN_LIMITS, () => now);
    // Ten addresses, one failure each: free.
    for (let i = 0; i < 10; i++) {
      expect(l.check(`192.0.2.${i}`, "admin").ok).toBe(true);
      l.fail(`192.0.2.${i}`, "admin");
    }
    // The account now waits, from any address, even with the right password.
    expect(l.check("198.51.100.1", "admin")).toMatchObject({ ok: false, reason: "account", retryAfterMs: 30_000 });
    expect(l.check("198.51.100.1", "bob").ok).toBe(true);
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      const v = l.check(`203.0.113.${i}`, "admin");
      if (v.ok) throw new Error("should wait");
      waits.push(v.retryAfterMs);
      now += v.retryAfterMs;
      expect(l.check(`203.0.113.${i}`, "admin").ok).toBe(true);
      l.fail(`203.0.113.${i}`, "admin");
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000, 900_000, 900_000]);
    // After the wait, the right password gets in and the account's count is forgotten.
    now += 900_000;
    expect(l.check("198.51.100.1", "admin").ok).toBe(true);
    l.succeed("admin");
    l.fail("198.51.100.2", "admin");
    expect(l.check("198.51.100.2", "admin").ok).toBe(true);
  });
});

describe("client address", () => {
  const h = (headers: Record<string, string>) => (name: string) => headers[name] ?? null;
  const none = trustList([]);
  const proxies = trustList(["10.0.0.1", "fd00::/8"]);

  it("is the socket's peer unless the peer is a trusted proxy: invented X-Forwarded-For changes nothing", () => {
    expect(clientOf({ address: "::ffff:192.0.2.7", tls: true }, h({ "x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "http" }), none)).toEqual({ address: "192.0.2.7", secure: true });
    expect(clientOf({ address: "192.0.2.7", tls: false }, h({ "x-forwarded-proto": "https" }), none)).toEqual({ address: "192.0.2.7", secure: false });
    // A trusted peer that is not the proxy in front of the client: 10.0.0.2 is not trusted.
    expect(clientOf({ address: "10.0.0.2", tls: false }, h({ "x-forwarded-for": "1.2.3.4" }), proxies)).toEqual({ address: "10.0.0.2", secure: false });
    expect(clientOf(null, h({ "x-forwarded-for": "1.2.3.4" }), proxies)).toEqual({ address: null, secure: false });
  });

  it("behind trusted proxies: the first untrusted hop from the right, and their X-Forwarded-Proto", () => {
    expect(clientOf({ address: "10.0.0.1", tls: false }, h({ "x-forwarded-for": "6.6.6.6, 192.0.2.7", "x-forwarded-proto": "https" }), proxies)).toEqual({ address: "192.0.2.7", secure: true });
    expect(clientOf({ address: "10.0.0.1", tls: false }, h({ "x-forwarded-for": "6.6.6.6, 192.0.2.7, fd00::5" }), proxies)).toEqual({ address: "192.0.2.7", secure: false });
    // A malformed hop stops the walk at the proxy that passed it on.
    expect(clientOf({ address: "10.0.0.1", tls: false }, h({ "x-forwarded-for": "6.6.6.6, not-an-ip" }), proxies).address).toBe("10.0.0.1");
    expect(clientOf({ address: "10.0.0.1", tls: true }, h({}), proxies)).toEqual({ address: "10.0.0.1", secure: true });
  });

  it("a configuration with a bad trusted proxy stops with the file and the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "ferry-cfg-"));
    writeFileSync(join(dir, "ferry.json"), JSON.stringify({ trustedProxies: ["10.0.0.1", "proxy.lan"] }));
    expect(() => loadConfig({ FERRY_DATA_DIR: dir })).toThrow(expect.objectContaining({ code: "config.invalid", file: join(dir, "ferry.json"), message: "trustedProxies.1: an IP address or CIDR block (10.0.0.1, 10.0.0.0/8, fd00::/8)" }));
    writeFileSync(join(dir, "ferry.json"), JSON.stringify({ trustedProxies: ["10.0.0.0/8"], tls: { cert: "c.pem", key: "k.pem" }, plainHttp: false }));
    expect(loadConfig({ FERRY_DATA_DIR: dir })).toMatchObject({ trustedProxies: ["10.0.0.0/8"], tls: { cert: join(dir, "c.pem"), key: join(dir, "k.pem") }, plainHttp: false });
    expect(loadConfig({ FERRY_DATA_DIR: dir, FERRY_PLAIN_HTTP: "1" }).plainHttp).toBe(true);
  });

  it("reads addresses and proxy entries strictly", () => {
    expect(normalizeAddress("[::1]")).toBe("::1");
    expect(normalizeAddress("1.2.3.4:80")).toBeNull();
    expect(normalizeAddress("")).toBeNull();
    expect(TrustedProxy.safeParse("10.0.0.0/8").success).toBe(true);
    expect(TrustedProxy.safeParse("fd00::/8").success).toBe(true);
    for (const bad of ["10.0.0.0/33", "10.0.0.0/8/8", "proxy.lan", "10.0.0.0/x", ""]) expect(TrustedProxy.safeParse(bad).success, bad).toBe(false);
  });
});

describe("session cookie", () => {
  const token = "A".repeat(43);
  it("takes well-formed ferry_session values only, never decoding, whatever else is in the header", () => {
    expect(sessionTokens(`ferry_session=${token}`)).toEqual([token]);
    expect(sessionTokens(`other=%E0%A4%A; ferry_session=%zz; ferry_session=${token}; ferry_session="${token.toLowerCase()}"`)).toEqual([token, token.toLowerCase()]);
    expect(sessionTokens("ferry_session=%E0%A4%A")).toEqual([]);
    expect(sessionTokens(`ferry_session=${"B".repeat(5000)}`)).toEqual([]);
    expect(sessionTokens(`${"junk=1; ".repeat(5000)}ferry_session=${token}`)).toEqual([]);
    expect(sessionTokens(Array.from({ length: 10 }, (_, i) => `ferry_session=${String(i).repeat(43)}`).join("; "))).toHaveLength(4);
    expect(sessionTokens(null)).toEqual([]);
    expect(sessionTokens("=;;;=ferry_session")).toEqual([]);
  });
});
