/**
 * A share of kind ssh against a real sshd (test/fixtures/sshd.ts): browse,
 * the streaming scan and the preview's inspection over SFTP, first contact
 * with an unknown host key accepted by an admin and stored, paths outside
 * the root refused, and jobs that copy, fail cleanly when the connection is
 * killed mid-copy, and succeed on retry.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectGuest } from "../../server/input/inspect-guest";
import { SqliteJobStore, Worker, type Job } from "../../server/jobs";
import { browse, FerryConfig, resolveInShare, scanShare, Share, withShareInput, type ScanItem } from "../../server/shares";
import { acceptHostKey, hostKeyStatus } from "../../server/shares/host-keys";
import { makeGuest } from "../fixtures/guest";
import { shareWithUser, startSshd, type TestSshd } from "../fixtures/sshd";

let sshd: TestSshd;
let share: Share;
const root = mkdtempSync(join(tmpdir(), "ferry-ssh-share-"));
const out = join(root, "out");

beforeAll(async () => {
  sshd = await startSshd();
  const ds = sshd.datastoreLocal;
  makeGuest(ds, "web01", [{ slot: "scsi0:0", sizeMiB: 16, dataMiB: 2 }]);
  makeGuest(join(ds, "team"), "db01", [{ slot: "scsi0:0", sizeMiB: 16, dataMiB: 10 }]);
  writeFileSync(join(ds, "web01", "notes.txt"), "hello");
  // Leads outside the share's root, on the server.
  mkdirSync(join(sshd.chroot, "etc"), { recursive: true });
  writeFileSync(join(sshd.chroot, "etc", "secret.vmx"), 'displayName = "secret"\n');
  symlinkSync("/etc", join(ds, "etc-link"));
  shareWithUser(ds);
  mkdirSync(out, { recursive: true });
  share = Share.parse({ name: "esxi", kind: "ssh", path: sshd.datastore, ssh: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identity, knownHosts: sshd.knownHosts } });
});
afterAll(() => sshd?.stop());

describe("ssh share configuration", () => {
  it("needs the ssh block for kind ssh, and refuses datastores on it", () => {
    expect(Share.safeParse({ name: "x", kind: "ssh", path: "/vmfs/volumes/ds" }).success).toBe(false);
    expect(Share.safeParse({ name: "x", path: "/nas", ssh: { host: "h", knownHosts: "/k" } }).success).toBe(false);
    expect(Share.safeParse({ name: "x", kind: "ssh", path: "/v", datastores: [{ prefix: "/vmfs/volumes/a", path: "/a" }], ssh: { host: "h", knownHosts: "/k" } }).success).toBe(false);
    expect(Share.parse({ name: "x", kind: "ssh", path: "/v", ssh: { host: "h", knownHosts: "/k" } }).ssh).toEqual({ host: "h", port: 22, user: "root", identityFile: null, knownHosts: "/k" });
  });
});

describe("browsing and scanning over SFTP", () => {
  it("lists a folder, folders first, hiding a symlink that leads out", async () => {
    const l = await withShareInput(share, (input) => browse(share, "", input));
    expect(l.entries.map((e) => [e.name, e.kind])).toEqual([["team", "folder"], ["web01", "folder"]]);
    expect(l.hidden).toBe(1);
    const g = await withShareInput(share, (input) => browse(share, "web01", input));
    expect(g.entries.map((e) => e.name)).toEqual(["notes.txt", "web01.vmdk", "web01.vmx"]);
    expect(g.entries.find((e) => e.name === "notes.txt")!.bytes).toBe(5);
  });

  it.each([
    ["etc-link", "share.path.outside"],
    ["etc-link/secret.vmx", "share.path.outside"],
    ["../../..", "share.path.parent"],
    ["/etc", "share.path.absolute"],
    ["nothing/here", "share.path.missing"],
  ])("refuses %j", async (rel, code) => {
    await expect(withShareInput(share, (input) => resolveInShare(share, rel, input))).rejects.toMatchObject({ code });
  });

  it("streams every guest with the same scan as local shares", async () => {
    const items: ScanItem[] = [];
    await withShareInput(share, async (input) => {
      for await (const i of scanShare(share, "", { input })) items.push(i);
    });
    const vms = items.filter((i): i is Extract<ScanItem, { type: "vm" }> => i.type === "vm").map((i) => i.vm);
    expect(vms.map((v) => [v.relPath, v.name, v.diskCount, v.error]).sort()).toEqual([
      ["team/db01/db01.vmx", "db01", 1, null],
      ["web01/web01.vmx", "web01", 1, null],
    ]);
    expect(vms.every((v) => v.totalBytes > 0)).toBe(true);
    expect(items[items.length - 1]).toMatchObject({ type: "done", vms: 2 });
  });

  it("previews a guest: the inspection over SFTP", async () => {
    const vm = await withShareInput(share, async (input) => inspectGuest((await resolveInShare(share, "web01/web01.vmx", input)).abs, { input, noFollow: true }));
    expect(vm.diskFacts[0]!.facts!.capacityBytes).toBe(16 * 1024 * 1024);
    expect(vm.concerns.filter((c) => c.severity === "critical")).toEqual([]);
  });
});

describe("first contact with an unknown host", () => {
  it("shows the fingerprint, stores the key once an admin accepts it, then connects", async () => {
    const kh = join(root, "first_known_hosts");
    const fresh: Share = { ...share, ssh: { ...share.ssh!, knownHosts: kh } };
    await expect(withShareInput(fresh, (input) => browse(fresh, "", input))).rejects.toMatchObject({ code: "ssh.known-hosts" });
    writeFileSync(kh, "");
    await expect(withShareInput(fresh, (input) => browse(fresh, "", input))).rejects.toMatchObject({ code: "ssh.host-key-unknown", message: expect.stringContaining(sshd.fingerprint) });
    expect(await hostKeyStatus(fresh)).toEqual({ state: "unknown", fingerprint: sshd.fingerprint, knownHosts: kh });
    await expect(acceptHostKey(fresh, "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).rejects.toMatchObject({ code: "ssh.host-key-mismatch" });
    expect(readFileSync(kh, "utf8")).toBe("");
    expect(await acceptHostKey(fresh, sshd.fingerprint)).toMatchObject({ state: "known" });
    expect(readFileSync(kh, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
    expect((await withShareInput(fresh, (input) => browse(fresh, "", input))).entries.length).toBe(2);
  });

  it("never replaces a changed key", async () => {
    const kh = join(root, "changed_known_hosts");
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${sshd.otherHostKey}\n`);
    const changed: Share = { ...share, ssh: { ...share.ssh!, knownHosts: kh } };
    expect((await hostKeyStatus(changed)).state).toBe("changed");
    await expect(acceptHostKey(changed, sshd.fingerprint)).rejects.toMatchObject({ code: "ssh.host-key-changed" });
    expect(readFileSync(kh, "utf8")).not.toContain(sshd.hostKey);
  });
});

describe("jobs from an ssh share", () => {
  const options = { output: "local" as const, format: "raw" as const, allocation: "sparse" as const, networks: [], bridges: [], macs: [], parallel: 1, overwrite: true };
  const config = (): FerryConfig => ({ dataDir: join(root, "data"), shares: [share], outputs: [{ name: "out", path: out }], concurrency: 1, perShareLimit: 1, trustedProxies: [], tls: null, plainHttp: false, databaseUrl: null, globalLimit: null, leaseSeconds: 30, overlayDir: join(root, "data", "overlays") });
  const wait = async (cond: () => boolean | Promise<boolean>, ms = 60_000) => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it("copies a guest with progress; a connection killed mid-copy fails it cleanly and a retry succeeds", async () => {
    const store = new SqliteJobStore(join(root, "jobs.db"));
    const worker = new Worker({ store, config: config(), pollMs: 50 });
    worker.start();
    try {
      const ok = await store.create({ share: "esxi", relPath: "web01/web01.vmx", options, copyOnly: true });
      await wait(async () => ["succeeded", "failed"].includes((await store.get(ok.id))!.state));
      expect((await store.get(ok.id))!.error).toBeNull();
      expect((await store.events(ok.id, 0)).some((e) => e.event.type === "progress")).toBe(true);
      execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", join(sshd.datastoreLocal, "web01", "web01.vmdk"), join(out, "web01-sda")]);

      // 10 MiB at 1 MiB/s: every sshd process serving it is killed a second into the copy.
      const slow = { ...options, rateLimitMiBps: 1 };
      const failing: Job = await store.create({ share: "esxi", relPath: "team/db01/db01.vmx", options: slow, copyOnly: true });
      await wait(async () => (await store.events(failing.id, 0)).some((e) => e.event.type === "stage" && e.event.name.startsWith("Copying") && e.event.state === "started"));
      await new Promise((r) => setTimeout(r, 1000));
      expect(sshd.killConnections()).toBeGreaterThan(0);
      await wait(async () => ["succeeded", "failed"].includes((await store.get(failing.id))!.state));
      expect((await store.get(failing.id))!.state).toBe("failed");
      expect((await store.get(failing.id))!.error!.message).toMatch(/qemu-img convert failed|connection|closed/i);
      expect(readdirSync(out).filter((f) => f.startsWith("db01") || f.startsWith("."))).toEqual([]);

      // Cancel works as for local shares: the copy stops, nothing is left.
      const cancelled = await store.create({ share: "esxi", relPath: "team/db01/db01.vmx", options: slow, copyOnly: true });
      await wait(async () => (await store.events(cancelled.id, 0)).some((e) => e.event.type === "stage" && e.event.name.startsWith("Copying") && e.event.state === "started"));
      worker.cancel(cancelled.id);
      await wait(async () => (await store.get(cancelled.id))!.state === "cancelled");
      expect(readdirSync(out).filter((f) => f.startsWith("db01") || f.startsWith("."))).toEqual([]);

      const retry = await store.create({ share: "esxi", relPath: "team/db01/db01.vmx", options, copyOnly: true, retryOf: failing.id });
      await wait(async () => ["succeeded", "failed"].includes((await store.get(retry.id))!.state));
      expect((await store.get(retry.id))!.error).toBeNull();
      execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", join(sshd.datastoreLocal, "team", "db01", "db01.vmdk"), join(out, "db01-sda")]);
    } finally {
      await worker.stop();
      await store.close();
    }
  });
});
