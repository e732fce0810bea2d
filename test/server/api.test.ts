/**
 * The tRPC API over real HTTP, with the real client: queries, mutations,
 * typed errors, and job events over SSE that resume after a reconnect.
 */
import { TRPCClientError } from "@trpc/client";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PipelineEvent } from "../../server/pipeline";
import { apiClient, serveApi, type ApiClient, type ApiServer } from "../fixtures/api-server";
import { makeGuest } from "../fixtures/guest";

const root = mkdtempSync(join(tmpdir(), "ferry-api-"));
const share = join(root, "share");
let server: ApiServer;
let client: ApiClient;
let url: string;

beforeAll(async () => {
  makeGuest(join(share, "prod"), "api01", [{ slot: "scsi0:0", sizeMiB: 64, dataMiB: 8 }, { slot: "sata0:0", sizeMiB: 32, dataMiB: 2 }]);
  makeGuest(join(share, "prod"), "api02", [{ slot: "scsi0:0", sizeMiB: 1024, dataMiB: 400 }]);
  mkdirSync(join(root, "out"));
  writeFileSync(join(root, "ferry.json"), JSON.stringify({ shares: [{ name: "nas", path: share }], outputs: [{ name: "kvm", path: join(root, "out") }], concurrency: 2, perShareLimit: 2 }));
  process.env.FERRY_DATA_DIR = join(root, "data");
  process.env.FERRY_CONFIG = join(root, "ferry.json");
  process.env.FERRY_ADMIN_PASSWORD = PASSWORD;
  ({ server, url } = await serveApi());
  client = makeClient(jar);
  await client.auth.login.mutate({ user: "admin", password: PASSWORD });
  expect(jar.cookie).toMatch(/^ferry_session=/);
}, 120_000);

const PASSWORD = "correct horse battery staple";
const jar = { cookie: "" };

/** A client with its own cookie jar: what a browser tab is. */
function makeClient(j: { cookie: string }, extraHeaders: Record<string, string> = {}) {
  return apiClient(url, {
    headers: () => ({ ...extraHeaders, ...(j.cookie ? { cookie: j.cookie } : {}) }),
    onResponse: (res) => {
      const set = res.headers.get("set-cookie");
      if (set) j.cookie = set.split(";")[0]!.endsWith("=") ? "" : set.split(";")[0]!;
    },
  });
}

afterAll(async () => {
  const { ferry } = await import("../../server/app");
  await ferry().worker.stop(true);
  server.close();
});

/** Subscribe to a job's events; stop after `take` events (or at the end). */
function events(id: string, lastEventId: string | null, take = Infinity): Promise<{ id: string; data: PipelineEvent }[]> {
  return new Promise((resolve, reject) => {
    const got: { id: string; data: PipelineEvent }[] = [];
    const sub = client.jobs.events.subscribe(
      { id, lastEventId },
      {
        onData(d) {
          got.push(d as { id: string; data: PipelineEvent });
          if (got.length >= take) {
            sub.unsubscribe();
            resolve(got);
          }
        },
        onComplete: () => resolve(got),
        onError: reject,
      },
    );
  });
}

describe("API", () => {
  it("lists shares, browses, scans and previews", async () => {
    expect(await client.shares.list.query()).toEqual([{ name: "nas", path: share, readOnly: true, kind: "local", host: null }]);
    const l = await client.shares.browse.query({ share: "nas", relPath: "prod/api01" });
    expect(l.entries.map((e) => e.name)).toEqual(["api01.vmdk", "api01.vmx", "api01_1.vmdk"]);
    const found: string[] = await new Promise((resolve, reject) => {
      const vms: string[] = [];
      client.shares.scan.subscribe({ share: "nas", relPath: "" }, {
        onData: (d) => {
          if (d.type === "vm") vms.push(d.vm.relPath);
          if (d.type === "done") resolve(vms.sort());
        },
        onError: reject,
      });
    });
    expect(found).toEqual(["prod/api01/api01.vmx", "prod/api02/api02.vmx"]);
    const p = await client.vm.preview.query({ share: "nas", relPath: "prod/api01/api01.vmx" });
    expect(p.vm.diskFacts.map((d) => d.facts?.createType)).toEqual(["monolithicSparse", "monolithicSparse"]);
    expect(p.plan!.changes.map((c) => c.subject)).toContain("scsi0:0 bus");
    // Converted by default: virtio disks, and the guest's sda renamed to vda.
    expect(p.plan!.copyOnly).toBe(false);
    expect(p.plan!.disks.map((d) => d.bus)).toEqual(["virtio", "virtio"]);
    expect(p.plan!.conversion!.devices).toMatchObject({ sda: "vda" });
  });

  it("refuses escapes with a typed, readable error and no stack", async () => {
    const e = await client.shares.browse.query({ share: "nas", relPath: "../../etc" }).catch((x) => x);
    expect(e).toBeInstanceOf(TRPCClientError);
    expect(e.message).toBe('"../../etc" climbs out with ..');
    expect(e.data).toMatchObject({ code: "BAD_REQUEST", ferry: { code: "share.path.parent", hint: expect.any(String) } });
    expect(JSON.stringify(e.data)).not.toMatch(/at .*\.ts:\d+/);
    const unknown = await client.shares.browse.query({ share: "nope", relPath: "" }).catch((x) => x);
    expect(unknown.data).toMatchObject({ code: "NOT_FOUND", ferry: { code: "share.unknown" } });
    const bad = await client.jobs.get.query({ id: "not-a-uuid" }).catch((x) => x);
    expect(bad.data.code).toBe("BAD_REQUEST");
  });

  it("runs a job and streams its events; a reconnect resumes without gaps or duplicates", async () => {
    const created = await client.jobs.create.mutate({ guests: [{ share: "nas", relPath: "prod/api02/api02.vmx" }], options: { output: "local", format: "raw", allocation: "sparse", networks: [], bridges: [], macs: [], parallel: 1, overwrite: true, copyOnly: true } });
    expect(created.jobs[0]!.copyOnly).toBe(true);
    const id = created.jobs[0]!.id;
    // The same guest again, while the first runs: refused.
    const dup = await client.jobs.create.mutate({ guests: [{ share: "nas", relPath: "prod/api02/api02.vmx" }], options: { output: "local", format: "raw", allocation: "sparse", networks: [], bridges: [], macs: [], parallel: 1, overwrite: true } }).catch((x) => x);
    expect(dup.data.code).toBe("CONFLICT");
    // Live: take a few events, drop the connection mid-job, reconnect from the last id.
    const first = await events(id, null, 6);
    expect(first.map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5, 6]);
    const rest = await events(id, first.at(-1)!.id);
    const all = [...first, ...rest];
    expect(all.map((e) => Number(e.id))).toEqual(all.map((_, i) => i + 1));
    expect(all.at(-1)!.data, JSON.stringify(all.at(-1))).toMatchObject({ type: "result" });
    expect((await client.jobs.get.query({ id })).state).toBe("succeeded");
    // After the fact, from the start: the same log.
    const replay = await events(id, null);
    expect(replay.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect((await client.jobs.list.query({ states: ["succeeded"] })).map((j) => j.id)).toContain(id);
  });

  it("cancels and retries", async () => {
    const { jobs } = await client.jobs.create.mutate({ guests: [{ share: "nas", relPath: "prod/api02/api02.vmx" }], options: { output: "json", format: "qcow2", allocation: "sparse", networks: [], bridges: [], macs: [], parallel: 1, overwrite: true, copyOnly: true } });
    const id = jobs[0]!.id;
    await events(id, null, 1);
    await client.jobs.cancel.mutate({ id });
    const end = Date.now() + 30_000;
    while ((await client.jobs.get.query({ id })).state !== "cancelled" && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect((await client.jobs.get.query({ id })).state).toBe("cancelled");
    const again = await client.jobs.cancel.mutate({ id }).catch((x) => x);
    expect(again.message).toMatch(/already ended \(cancelled\)/);
    const retry = await client.jobs.retry.mutate({ id });
    expect(retry).toMatchObject({ retryOf: id, state: "queued" });
    await events(retry.id, null);
    expect((await client.jobs.get.query({ id: retry.id })).state).toBe("succeeded");
    // A copy-only job has no boot check: no console, no screenshot (the real ones are in e2e).
    expect(await client.jobs.bootEvidence.query({ id: retry.id })).toEqual({ console: null, screenshot: null });
    const unknown = await client.jobs.bootEvidence.query({ id: "00000000-0000-4000-8000-000000000000" }).catch((x) => x);
    expect(unknown.data.code).toBe("NOT_FOUND");
  });

  it("refuses every call and every stream without a session, whatever a proxy header says", async () => {
    const anon = makeClient({ cookie: "" }, { "x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware" });
    const e = await anon.shares.list.query().catch((x) => x);
    expect(e.data?.code).toBe("UNAUTHORIZED");
    const sub = await new Promise((resolve) => {
      const s = anon.shares.scan.subscribe({ share: "nas", relPath: "" }, { onData: () => resolve("data"), onError: (err) => { s.unsubscribe(); resolve(err.data?.code); } });
    });
    expect(sub).toBe("UNAUTHORIZED");
    expect(await anon.auth.me.query()).toBeNull();
  });

  it("signs out everywhere: logout ends every session of the user", async () => {
    const a = { cookie: "" };
    const b = { cookie: "" };
    const tabA = makeClient(a);
    const tabB = makeClient(b);
    await tabA.auth.login.mutate({ user: "admin", password: PASSWORD });
    await tabB.auth.login.mutate({ user: "admin", password: PASSWORD });
    expect(await tabB.auth.me.query()).toEqual({ user: "admin", role: "admin" });
    expect((await tabA.auth.logout.mutate()).ended).toBeGreaterThanOrEqual(3);
    expect((await tabB.shares.list.query().catch((x) => x)).data.code).toBe("UNAUTHORIZED");
    // The other tab's live view is refused too, as is a made-up session.
    const streamB = await new Promise((resolve) => {
      const sub = tabB.shares.scan.subscribe({ share: "nas", relPath: "" }, { onData: () => resolve("data"), onError: (err) => { sub.unsubscribe(); resolve(err.data?.code); } });
    });
    expect(streamB).toBe("UNAUTHORIZED");
    const forged = makeClient({ cookie: "ferry_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    expect((await forged.jobs.list.query().catch((x) => x)).data.code).toBe("UNAUTHORIZED");
    expect((await client.shares.list.query().catch((x) => x)).data.code).toBe("UNAUTHORIZED");
    await client.auth.login.mutate({ user: "admin", password: PASSWORD });
    expect(await client.auth.me.query()).toEqual({ user: "admin", role: "admin" });
  });

  it("treats malformed, huge, repeated and foreign cookies as signed out (never a 500), and signs in with them present", async () => {
    const garbage = [
      "ferry_session=%E0%A4%A",
      "ferry_session=%",
      "theme=%zz%; other_app_session=%E0%A4%A",
      `ferry_session=${"x".repeat(12_000)}`,
      `ferry_session=AAAA; ferry_session=%ff; ferry_session=${"B".repeat(43)}`,
      `${"c=%; ".repeat(1500)}ferry_session=\u00e9`,
    ];
    for (const cookie of garbage) {
      const res = await fetch(`${url}/shares.list`, { headers: { cookie } });
      expect(res.status, cookie.slice(0, 60)).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe("sign in first");
      // Sign-in works with the cookie still there, and the new session with it.
      const login = await fetch(`${url}/auth.login`, { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ user: "admin", password: PASSWORD }) });
      expect(login.status, cookie.slice(0, 60)).toBe(200);
      const token = /^ferry_session=([^;]+)/.exec(login.headers.get("set-cookie")!)![1]!;
      const after = await fetch(`${url}/shares.list`, { headers: { cookie: `${cookie}; ferry_session=${token}` } });
      expect(after.status, cookie.slice(0, 60)).toBe(200);
    }
    // Over Node's header limit: refused by Node itself with 431, not by Ferry with a 500.
    expect((await fetch(`${url}/shares.list`, { headers: { cookie: `a=${"x".repeat(20_000)}` } })).status).toBe(431);
  });

  it("sets the session cookie HttpOnly and SameSite=Strict, Secure only over TLS (an invented X-Forwarded-Proto changes nothing)", async () => {
    const res = await fetch(`${url}/auth.login`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-proto": "https" }, body: JSON.stringify({ user: "admin", password: PASSWORD }) });
    const set = res.headers.get("set-cookie")!;
    expect(set).toMatch(/^ferry_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  });

  it("limits sign-in attempts to 5 failures a minute per address and user, whatever X-Forwarded-For the client invents", async () => {
    // A new made-up X-Forwarded-For on every try: the address is still the socket's (no trusted proxy is configured).
    const forged = (i: number) => makeClient({ cookie: "" }, { "x-forwarded-for": `203.0.113.${i}`, "x-forwarded-proto": "https" });
    for (let i = 0; i < 5; i++) {
      const e = await forged(i).auth.login.mutate({ user: "admin", password: `guess ${i}` }).catch((x) => x);
      expect(e.data.code).toBe("UNAUTHORIZED");
      expect(e.data.ferry).toMatchObject({ code: "auth.wrong-password", hint: expect.any(String) });
    }
    const sixth = await forged(5).auth.login.mutate({ user: "admin", password: "guess 5" }).catch((x) => x);
    expect(sixth.data.code).toBe("TOO_MANY_REQUESTS");
    // And the right password, from yet another invented address: refused until the window passes.
    const right = await forged(6).auth.login.mutate({ user: "admin", password: PASSWORD }).catch((x) => x);
    expect(right.data.code).toBe("TOO_MANY_REQUESTS");
    expect(right.message).toMatch(/^too many sign-in attempts; try again in \d+ s$/);
    expect(right.data.ferry).toMatchObject({ code: "auth.throttled", hint: expect.stringContaining("5 tries a minute") });
    // Another user name from the same address is counted apart.
    const else_ = await forged(7).auth.login.mutate({ user: "nobody", password: "x" }).catch((x) => x);
    expect(else_.data.code).toBe("UNAUTHORIZED");
    const log = await client.auth.audit.query();
    const attempts = log.filter((l) => l.action.startsWith("auth.login.") && l.user === "admin");
    expect(attempts.filter((l) => l.action === "auth.login.failed").length).toBeGreaterThanOrEqual(5);
    expect(attempts.some((l) => l.action === "auth.login.throttled")).toBe(true);
    // The audit log has the real address, never the client's claim.
    expect(new Set(log.map((l) => l.address))).toEqual(new Set(["127.0.0.1"]));
    expect(log.some((l) => l.action === "jobs.create" && l.user === "admin" && (l.detail as { relPath?: string }).relPath === "prod/api02/api02.vmx")).toBe(true);
  });

  it("allows at most 5 live streams per session", async () => {
    const { jobs } = await client.jobs.create.mutate({ guests: [{ share: "nas", relPath: "prod/api01/api01.vmx" }], options: { output: "local", format: "raw", allocation: "sparse", networks: [], bridges: [], macs: [], parallel: 1, overwrite: true, copyOnly: true, rateLimitMiBps: 1 } });
    const id = jobs[0]!.id;
    const subs: { unsubscribe(): void }[] = [];
    const opened = await Promise.all(
      Array.from({ length: 6 }, () =>
        new Promise<string>((resolve) => {
          const s = client.jobs.events.subscribe({ id, lastEventId: null }, { onData: () => resolve("ok"), onError: (err) => resolve(err.data?.code ?? "error") });
          subs.push(s);
        }),
      ),
    );
    expect(opened.filter((o) => o === "ok")).toHaveLength(5);
    expect(opened.filter((o) => o === "TOO_MANY_REQUESTS")).toHaveLength(1);
    for (const s of subs) s.unsubscribe();
    await client.jobs.cancel.mutate({ id });
  });

  it("reports system health", async () => {
    const h = await client.system.health.query();
    expect(h.qemuImg.ok).toBe(true);
    expect(h.qemuImg.formats).toContain("vmdk");
    expect(h.outputs[0]).toMatchObject({ name: "kvm", kind: "folder", where: join(root, "out"), error: null });
    expect(h.outputs[0]!.freeBytes).toBeGreaterThan(0);
    // Which accelerator conversions and boot checks get, found by starting qemu, and why.
    expect(["kvm", "tcg"]).toContain(h.kvm.accel);
    expect(h.kvm.reason.length).toBeGreaterThan(3);
    // No virtio-win configured: the wizard says Windows guests get SATA and e1000e.
    expect(h.virtioWin).toEqual({ path: null, supports: [], error: null });
  });
});
