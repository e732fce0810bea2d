/**
 * Every procedure and stream of the router, called over real HTTP by no one
 * and by each role. The table below is the access policy: a procedure added
 * to the router without a line here, or without a role on the procedure
 * itself, fails this test.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, serveApi, type ApiServer } from "../fixtures/api-server";

const POLICY: Record<string, "public" | "viewer" | "operator" | "admin"> = {
  "auth.me": "public",
  "auth.login": "public",
  "auth.logout": "viewer",
  "auth.audit": "admin",
  "vmx.read": "viewer",
  "shares.list": "viewer",
  "shares.browse": "viewer",
  "shares.scan": "viewer",
  "shares.hostKey": "viewer",
  "shares.acceptHostKey": "admin",
  "vm.preview": "viewer",
  "jobs.create": "operator",
  "jobs.list": "viewer",
  "jobs.hosts": "viewer",
  "jobs.get": "viewer",
  "jobs.report": "viewer",
  "jobs.bootEvidence": "viewer",
  "jobs.domain": "viewer",
  "jobs.cancel": "operator",
  "jobs.retry": "operator",
  "jobs.events": "viewer",
  "system.health": "viewer",
  "users.list": "admin",
  "users.add": "admin",
  "users.passwd": "admin",
  "users.remove": "admin",
};
const RANK = ["viewer", "operator", "admin"] as const;

const root = mkdtempSync(join(tmpdir(), "ferry-roles-"));
let server: ApiServer;
let url: string;
type Procedures = Record<string, { _def: { type: "query" | "mutation" | "subscription"; meta?: { access?: string }; inputs: unknown[] } }>;
let procedures: Procedures;
let mint: (user: string) => Promise<string>;

beforeAll(async () => {
  mkdirSync(join(root, "share"), { recursive: true });
  mkdirSync(join(root, "out"));
  writeFileSync(join(root, "ferry.json"), JSON.stringify({ shares: [{ name: "nas", path: join(root, "share") }], outputs: [{ name: "kvm", path: join(root, "out") }] }));
  process.env.FERRY_DATA_DIR = join(root, "data");
  process.env.FERRY_CONFIG = join(root, "ferry.json");
  process.env.FERRY_ADMIN_PASSWORD = "roles admin password";
  process.env.FERRY_NO_WORKER = "1";
  const { appRouter } = await import("../../server/api/root");
  const { ferry } = await import("../../server/app");
  procedures = appRouter._def.procedures as unknown as Procedures;
  const { auth, ready } = ferry();
  await ready;
  await auth.addUser("vic", "viewer", "vic's password");
  await auth.addUser("olga", "operator", "olga's password");
  // Sessions straight from the real store: one fresh session per call, so auth.logout cannot spoil the next one.
  mint = async (user) => (await auth.createSession(user)).token;
  ({ server, url } = await serveApi());
}, 120_000);

afterAll(() => {
  server.close();
});

function client(token: string | null) {
  return apiClient(url, { headers: (): Record<string, string> => (token ? { cookie: `ferry_session=${token}` } : {}) });
}

/** Call a procedure by its path with an input that fails validation where there is one (nothing happens); the error code, or "ok". */
async function call(path: string, token: string | null): Promise<string> {
  const p = procedures[path]!;
  const fn = path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], client(token)) as Record<string, (input?: unknown, opts?: unknown) => unknown>;
  const input = p._def.inputs.length ? { notAField: true } : undefined;
  if (p._def.type === "subscription") {
    return new Promise((resolve) => {
      const sub = fn.subscribe!(input, {
        onData: () => {
          sub.unsubscribe();
          resolve("ok");
        },
        onError: (e: { data?: { code?: string } }) => {
          sub.unsubscribe();
          resolve(e.data?.code ?? "error");
        },
        onComplete: () => resolve("ok"),
      }) as { unsubscribe(): void };
    });
  }
  try {
    await (p._def.type === "query" ? fn.query!(input) : fn.mutate!(input));
    return "ok";
  } catch (e) {
    return (e as { data?: { code?: string } }).data?.code ?? "error";
  }
}

describe("roles", () => {
  it("every procedure of the router is in the policy, and says its role itself", () => {
    expect(Object.keys(procedures).sort()).toEqual(Object.keys(POLICY).sort());
    for (const [path, p] of Object.entries(procedures)) expect(p._def.meta?.access, path).toBe(POLICY[path]);
  });

  it.each(Object.keys(POLICY))("%s: refused without a session and for each role below its own; allowed from its own up", async (path) => {
    const needed = POLICY[path]!;
    const anonymous = await call(path, null);
    if (needed === "public") expect(anonymous).not.toMatch(/UNAUTHORIZED|FORBIDDEN/);
    else expect(anonymous).toBe("UNAUTHORIZED");
    // A garbage cookie is no session either: "sign in first", never a 500.
    const garbage = await call(path, "%E0%A4%A");
    expect(garbage).toBe(anonymous);
    for (const [user, role] of [["vic", "viewer"], ["olga", "operator"], ["admin", "admin"]] as const) {
      const got = await call(path, await mint(user));
      if (needed !== "public" && RANK.indexOf(role) < RANK.indexOf(needed)) expect(got, `${role} calling ${path}`).toBe("FORBIDDEN");
      else expect(got, `${role} calling ${path}`).not.toMatch(/UNAUTHORIZED|FORBIDDEN|INTERNAL_SERVER_ERROR/);
    }
  });

  it("a refusal names the role and carries a hint; the audit log names the account", async () => {
    const e = await client(await mint("vic")).jobs.cancel.mutate({ id: "00000000-0000-4000-8000-000000000000" }).catch((x) => x);
    expect(e.message).toBe('this needs the operator role; "vic" is a viewer');
    expect(e.data.ferry).toMatchObject({ code: "auth.forbidden", hint: expect.stringContaining("admin") });
    const admin = client(await mint("admin"));
    await admin.users.add.mutate({ name: "tmp", role: "viewer", password: "tmp password 1" });
    const log = await admin.auth.audit.query();
    expect(log[0]).toMatchObject({ user: "admin", address: "127.0.0.1", action: "users.add", detail: { name: "tmp", role: "viewer" } });
  });

  it("a changed password or a removed account ends its sessions, and the last admin stays", async () => {
    const admin = client(await mint("admin"));
    const olga = await mint("olga");
    expect(await client(olga).auth.me.query()).toEqual({ user: "olga", role: "operator" });
    expect((await admin.users.passwd.mutate({ name: "olga", password: "olga's new password" })).ended).toBeGreaterThanOrEqual(1);
    expect(await call("jobs.list", olga)).toBe("UNAUTHORIZED");
    const login = await client(null).auth.login.mutate({ user: "olga", password: "olga's new password" });
    expect(login).toEqual({ user: "olga", role: "operator" });
    const vic = await mint("vic");
    expect(await admin.users.remove.mutate({ name: "vic" })).toEqual({ ended: expect.any(Number) });
    expect(await call("jobs.list", vic)).toBe("UNAUTHORIZED");
    const last = await admin.users.remove.mutate({ name: "admin" }).catch((x) => x);
    expect(last.data).toMatchObject({ code: "BAD_REQUEST", ferry: { code: "user.last-admin" } });
    const dup = await admin.users.add.mutate({ name: "olga", role: "admin", password: "whatever long" }).catch((x) => x);
    expect(dup.data.ferry.code).toBe("user.exists");
    const weak = await admin.users.add.mutate({ name: "neo", role: "admin", password: "short" }).catch((x) => x);
    expect(weak.data.code).toBe("BAD_REQUEST");
    expect((await admin.users.list.query()).map((u) => u.name)).toEqual(["admin", "olga", "tmp"]);
  });
});
