/**
 * A libvirt output target through the API, against a real libvirt daemon
 * (test/fixtures/libvirtd.ts): the Target step's free space of the pool,
 * the Review step's XML for that host, a job that defines and starts the
 * guest, and the job page's live domain state.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../server/shares";
import { apiClient, serveApi, type ApiClient, type ApiServer } from "../fixtures/api-server";
import { makeGuest } from "../fixtures/guest";
import { startLibvirtd, type TestLibvirtd } from "../fixtures/libvirtd";

const root = mkdtempSync(join(tmpdir(), "ferry-api-libvirt-"));
const share = join(root, "share");
const PASSWORD = "libvirt target admin password";
let lv: TestLibvirtd;
let poolDir: string;
let server: ApiServer;
let client: ApiClient;

beforeAll(async () => {
  lv = await startLibvirtd();
  poolDir = lv.pool("vms");
  lv.network("default");
  makeGuest(join(share, "prod"), "web07", [{ slot: "scsi0:0", sizeMiB: 32, dataMiB: 2 }]);
  writeFileSync(
    join(root, "ferry.json"),
    JSON.stringify({
      shares: [{ name: "nas", path: share }],
      outputs: [
        { name: "kvm", kind: "libvirt", uri: lv.uri, pool: "vms" },
        { name: "gone", kind: "libvirt", uri: `qemu+unix:///system?socket=${join(root, "none.sock")}`, pool: "vms" },
      ],
      concurrency: 1,
      perShareLimit: 1,
    }),
  );
  process.env.FERRY_DATA_DIR = join(root, "data");
  process.env.FERRY_CONFIG = join(root, "ferry.json");
  process.env.FERRY_ADMIN_PASSWORD = PASSWORD;
  const served = await serveApi();
  server = served.server;
  let cookie = "";
  client = apiClient(served.url, {
    headers: (): Record<string, string> => (cookie ? { cookie } : {}),
    onResponse: (res) => {
      const set = res.headers.get("set-cookie");
      if (set) cookie = set.split(";")[0]!;
    },
  });
  await client.auth.login.mutate({ user: "admin", password: PASSWORD });
}, 120_000);

afterAll(async () => {
  const { ferry } = await import("../../server/app");
  await ferry().worker.stop(true);
  server?.close();
  await lv?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("an output target of kind libvirt", () => {
  it("shows the pool's free space, and why a libvirt that cannot be reached has none", async () => {
    const h = await client.system.health.query();
    const kvm = h.outputs.find((o) => o.name === "kvm")!;
    expect(kvm).toMatchObject({ kind: "libvirt", where: `pool vms on ${lv.uri}`, error: null });
    // What the space check counts in the pool's folder, as the Review step shows it.
    const p = await client.vm.preview.query({ share: "nas", relPath: "prod/web07/web07.vmx", options: { target: "kvm", copyOnly: true, networks: ["default"] } });
    expect(kvm.freeBytes).toBeGreaterThan(0);
    expect(Math.abs(kvm.freeBytes! - p.outputFreeBytes!)).toBeLessThan(1024 ** 3);
    const gone = h.outputs.find((o) => o.name === "gone")!;
    expect(gone).toMatchObject({ kind: "libvirt", freeBytes: null });
    expect(gone.error).toMatch(/cannot reach libvirt at qemu\+unix:\/\/\/system\?socket=.*none\.sock/);
  });

  it("previews the XML libvirt will be given: the host's domain type and machine, disks in the pool", async () => {
    const p = await client.vm.preview.query({ share: "nas", relPath: "prod/web07/web07.vmx", options: { target: "kvm", copyOnly: true, networks: ["default"] } });
    expect(p.planError).toBeNull();
    expect(p.plan!.output).toMatchObject({ mode: "libvirt", dir: poolDir, libvirt: { pool: "vms", domainType: "qemu" } });
    expect(p.metadata).toMatch(/^<domain type='qemu'>/);
    expect(p.metadata).toContain(`<source file='${join(poolDir, "web07-sda")}'/>`);
    expect(p.outputFreeBytes).toBeGreaterThan(0);
    const bad = await client.vm.preview.query({ share: "nas", relPath: "prod/web07/web07.vmx", options: { target: "gone", copyOnly: true } });
    expect(bad.planError).toMatchObject({ code: "libvirt.unreachable" });
  });

  it("runs a job that defines and starts the guest; the job page sees the domain running", async () => {
    const { jobs } = await client.jobs.create.mutate({ guests: [{ share: "nas", relPath: "prod/web07/web07.vmx" }], options: { target: "kvm", copyOnly: true, networks: ["default"], start: true } });
    const id = jobs[0]!.id;
    const deadline = Date.now() + 120_000;
    let job = await client.jobs.get.query({ id });
    while (["queued", "running"].includes(job.state) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      job = await client.jobs.get.query({ id });
    }
    expect(job.state, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.outputs.map((f) => f.path)).toEqual([join(poolDir, "web07-sda")]);
    const d = await client.jobs.domain.query({ id });
    expect(d).toMatchObject({ uri: lv.uri, name: "web07", pool: "vms", volumes: [join(poolDir, "web07-sda")], definedState: "running", started: true, state: "running", error: null });
    lv.virsh("destroy", "web07");
    expect(await client.jobs.domain.query({ id })).toMatchObject({ state: "shut off" });
    // The libvirt gone: the job page still shows the domain, and why its state is unknown.
    await lv.stop();
    const gone = await client.jobs.domain.query({ id });
    expect(gone).toMatchObject({ name: "web07", definedState: "running", state: null });
    expect(gone!.error).toMatch(/^cannot reach libvirt at qemu\+unix:/);
  });

  it("refuses a libvirt target that names no pool, and a folder target asked for -o libvirt", async () => {
    writeFileSync(join(root, "bad.json"), JSON.stringify({ outputs: [{ name: "kvm", kind: "libvirt", uri: "qemu:///system" }] }));
    expect(() => loadConfig({ FERRY_CONFIG: join(root, "bad.json"), FERRY_DATA_DIR: join(root, "d2") })).toThrow(expect.objectContaining({ code: "config.invalid", message: expect.stringMatching(/^outputs\.0\.pool: /) }));
    writeFileSync(join(root, "bad2.json"), JSON.stringify({ outputs: [{ name: "kvm", kind: "nfs", path: "/x" }] }));
    expect(() => loadConfig({ FERRY_CONFIG: join(root, "bad2.json"), FERRY_DATA_DIR: join(root, "d2") })).toThrow(expect.objectContaining({ message: expect.stringMatching(/^outputs\.0\.kind: /) }));
    const { resolveDestination } = await import("../../server/output/targets");
    await expect(resolveDestination({ name: "folder", path: root }, "libvirt")).rejects.toMatchObject({ code: "output.not-libvirt" });
  });
});
