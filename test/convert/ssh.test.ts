import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debianGuests } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { startSshd, type TestSshd } from "../fixtures/sshd";
import { guestText } from "./helpers";

/**
 * The whole conversion of the Debian 12 test guest read over SSH, as from
 * an ESXi datastore: the VMX and descriptor over SFTP, the disk through
 * qemu's ssh driver as the overlay's backing, which libguestfs' appliance
 * reads through the same private ssh-agent; then converted and booted.
 */

let sshd: TestSshd;
let source: string;
let out: string;
let r: { stdout: string; stderr: string; status: number | null };
let before: Record<string, string>;

beforeAll(async () => {
  const guests = debianGuests();
  sshd = await startSshd("datastore1");
  // Hard links (a copy where they cannot be made): the guest's files are world-readable, so the login user reads them as they are.
  source = join(sshd.datastoreLocal, "debian12");
  mkdirSync(source, { mode: 0o755 });
  for (const f of readdirSync(dirname(guests.debian12))) {
    const from = join(dirname(guests.debian12), f);
    try {
      execFileSync("ln", [from, join(source, f)]);
    } catch {
      execFileSync("cp", ["--reflink=auto", "-p", from, join(source, f)]);
    }
  }
  before = fingerprint(source);
  out = mkdtempSync(join(tmpdir(), "ferry-ssh-convert-"));
  const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${sshd.datastore}/debian12/debian12.vmx`;
  r = spawnSync(resolve(__dirname, "../../bin/ferry"), ["-i", "vmx", "-it", "ssh", url, "--ssh-identity", sshd.identity, "--ssh-known-hosts", sshd.knownHosts, "-o", "local", "-os", out], {
    encoding: "utf8",
    timeout: 20 * 60_000,
    env: { ...process.env, SSH_AUTH_SOCK: "" },
  });
}, 25 * 60_000);

afterAll(() => sshd?.stop());

describe("ferry -i vmx -it ssh ssh://…/debian12.vmx -o local -os DIR", () => {
  it("inspects, converts, copies and boot-checks the guest read over SSH", () => {
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    for (const stage of ["Inspecting the overlay", "Converting the guest to run on KVM", "Copying disk 1/1", "Checking that the guest boots", "Finishing off"]) expect(r.stdout).toContain(`] ${stage}`);
    expect(r.stderr).toMatch(/boot check passed in [\d.]+ s/);
    expect(r.stderr).toMatch(/boot check: NIC 00:0c:29:5e:7a:01 \(virtio\): DHCP request/);
    expect(readdirSync(out).sort()).toEqual(["debian12-console.log", "debian12-screen.png", "debian12-vda", "debian12.xml"]);
  });

  it("converted what it read: fstab on /dev/vda1, the NIC pinned, open-vm-tools gone", () => {
    const disk = join(out, "debian12-vda");
    expect(guestText(disk, "/etc/fstab")).toBe("/dev/vda1\t/\text4\terrors=remount-ro\t0\t1\n");
    expect(guestText(disk, "/etc/systemd/network/50-ferry-ens192.link")).toMatch(/MACAddress=00:0c:29:5e:7a:01/);
    expect(guestText(disk, "/var/lib/dpkg/status")).not.toMatch(/^Package: open-vm-tools$/m);
  });

  it("leaves the source on the server byte-identical, and its private ssh-agent gone", () => {
    expect(fingerprint(source)).toEqual(before);
    expect(readdirSync(tmpdir()).filter((d) => d.startsWith("ferry-agent-"))).toEqual([]);
  });
});
