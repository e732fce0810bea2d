/**
 * The converted Debian 12 guest into a real libvirt (test/fixtures/libvirtd.ts)
 * through the CLI with --start: the domain defined and running under TCG
 * (domain type qemu: this host has no KVM), its disk a volume of the pool,
 * and the guest's login prompt read on its serial console through libvirt
 * (virsh console, given a terminal by script(1)).
 */
import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { startLibvirtd, type TestLibvirtd } from "../fixtures/libvirtd";

let guest: LinuxGuest;
let lv: TestLibvirtd;
let poolDir: string;
let stdout: string;
let stderr: string;
let status: number | null;

beforeAll(async () => {
  guest = linuxGuest("debian12");
  lv = await startLibvirtd();
  poolDir = lv.pool("guests");
  lv.network("default");
  // The boot is proven by libvirt's own start below: no second boot under qemu first.
  const r = spawnSync(resolve(__dirname, "../../bin/ferry"), ["-i", "vmx", guest.vmx, "-o", "libvirt", "-oc", lv.uri, "-os", "guests", "-n", "default", "--start", "--no-boot-check"], { encoding: "utf8", timeout: 30 * 60_000 });
  ({ stdout, stderr, status } = r);
}, 40 * 60_000);

afterAll(async () => {
  await lv?.stop();
});

/** The serial console through `virsh console` until `pattern` shows; Enter every 15 s makes getty print its prompt again. */
function readConsole(uri: string, name: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((done, fail) => {
    const cmd = `virsh -c '${uri}' console ${name} --force`;
    const p = spawn("script", ["-q", "-f", "-c", cmd, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let text = "";
    const finish = (err: Error | null) => {
      clearInterval(poke);
      clearTimeout(timer);
      p.kill("SIGKILL");
      if (err) fail(err);
      else done(text);
    };
    p.stdout.on("data", (b: Buffer) => {
      text += b.toString("utf8");
      if (pattern.test(text)) finish(null);
    });
    p.stderr.on("data", (b: Buffer) => (text += b.toString("utf8")));
    const poke = setInterval(() => p.stdin.write("\r"), 15_000);
    const timer = setTimeout(() => finish(new Error(`no ${pattern} on the console within ${timeoutMs / 1000} s; it showed:\n${text.slice(-3000)}`)), timeoutMs);
    p.on("exit", () => {
      if (!pattern.test(text)) finish(new Error(`virsh console ended: ${text.slice(-3000)}`));
    });
  });
}

describe("ferry -i vmx debian12.vmx -o libvirt -oc URI -os POOL --start", () => {
  it("converts, defines and starts the guest", () => {
    expect(stderr, stderr).not.toMatch(/error/);
    expect(status).toBe(0);
    for (const stage of ["Converting the guest to run on KVM", "Copying disk 1/1", `Setting up the destination: -o libvirt -oc ${lv.uri} -os guests`, "Finishing off"]) expect(stdout).toContain(`] ${stage}`);
    expect(stderr).toContain(`ferry: libvirt domain "debian12" on ${lv.uri}: running (started); volumes in pool "guests": debian12-vda`);
  });

  it("virsh dominfo shows it running under TCG, virsh vol-list its disk", () => {
    expect(lv.virsh("dominfo", "debian12")).toMatch(/State:\s+running/);
    expect(lv.virsh("dumpxml", "debian12")).toMatch(/<domain type='qemu' id='\d+'>/);
    expect(lv.virsh("vol-list", "guests")).toMatch(/debian12-vda\s+\S+debian12-vda/);
    expect(readdirSync(poolDir)).toEqual(["debian12-vda"]);
  });

  it("reaches its login prompt on the serial console, read through libvirt", async () => {
    const text = await readConsole(lv.uri, "debian12", /debian12 login:/, 12 * 60_000);
    expect(text).toMatch(/debian12 login:/);
  }, 13 * 60_000);
});
