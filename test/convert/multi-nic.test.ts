import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linuxGuest, type LinuxGuest } from "../fixtures/linux-guest";
import { fingerprint } from "../fixtures/fingerprint";
import { eventOf, guestText, nicReport, run, vmxMacs, type Run, asLinux } from "./helpers";

/**
 * Three NICs as ESXi lays them out (vmxnet3 in slot 192, e1000e in 224,
 * vmxnet3 in 256), static addresses on two, DHCP on one, ifupdown listing
 * ens256 first, and nftables rules naming them. After conversion every NIC
 * keeps its name (pinned to its MAC), so every address and rule holds: the
 * boot check sees each static address announced by the right MAC, and the
 * guest reports each interface with its address.
 */

let guest: LinuxGuest;
let out: string;
let r: Run;
let macs: string[];
let before: Record<string, string>;

beforeAll(async () => {
  guest = linuxGuest("multi-nic");
  macs = vmxMacs(readFileSync(guest.vmx, "utf8"));
  out = mkdtempSync(join(tmpdir(), "ferry-multi-nic-"));
  before = fingerprint(guest.folder);
  r = await run(guest.vmx, { outputDir: out });
}, 30 * 60_000);
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("the multi-NIC guest (ifupdown)", () => {
  it("converts and boots, the source unchanged", () => {
    expect(r.error).toBeNull();
    expect(eventOf(r, "boot").ok).toBe(true);
    expect(fingerprint(guest.folder)).toEqual(before);
  });

  it("pairs each NIC by ESXi's slot name, never by the order the configuration lists them, and pins each to its MAC", () => {
    expect(macs).toHaveLength(3);
    const nics = asLinux(eventOf(r, "conversion").report).nics;
    expect(nics.map((n) => [n.sourceId, n.mac, n.guestName, n.pairedBy, n.approach, n.kvmName])).toEqual([
      ["ethernet0", macs[0], "ens192", "pci-slot", "pinned", "ens192"],
      ["ethernet1", macs[1], "ens224", "pci-slot", "pinned", "ens224"],
      ["ethernet2", macs[2], "ens256", "pci-slot", "pinned", "ens256"],
    ]);
    const disk = join(out, "multi-nic-vda");
    for (const [i, name] of ["ens192", "ens224", "ens256"].entries()) {
      expect(guestText(disk, `/etc/systemd/network/50-ferry-${name}.link`)).toContain(`MACAddress=${macs[i]}\n\n[Link]\nName=${name}\n`);
    }
    // The configuration and the firewall rules are untouched: they still name ens192, ens224, ens256.
    expect(guestText(disk, "/etc/network/interfaces")).toMatch(/allow-hotplug ens256\niface ens256 inet static\n\taddress 10\.20\.30\.40\/24/);
    expect(guestText(disk, "/etc/nftables.conf")).toContain('iifname "ens192" tcp dport 22 accept');
  });

  it("proves each NIC's identity on the boot check's isolated network: static addresses announced by the right MAC, DHCP from the DHCP NIC", () => {
    const boot = eventOf(r, "boot");
    expect(boot.nics).toHaveLength(3);
    expect(boot.nics![0]).toMatchObject({ mac: macs[0], addresses: expect.arrayContaining(["192.168.50.10"]) });
    expect(boot.nics![1]).toMatchObject({ mac: macs[1], dhcp: true });
    expect(boot.nics![2]).toMatchObject({ mac: macs[2], addresses: expect.arrayContaining(["10.20.30.40"]) });
    // A static address is never announced by another NIC.
    expect(boot.nics![2]!.addresses).not.toContain("192.168.50.10");
    expect(boot.nics![0]!.addresses).not.toContain("10.20.30.40");
  });

  it("and the guest itself reports every interface with its MAC and address", () => {
    const report = nicReport(readFileSync(join(out, "multi-nic-console.log"), "utf8"));
    expect(report).toEqual({
      ens192: { mac: macs[0], addr: "192.168.50.10/24" },
      ens224: { mac: macs[1], addr: expect.stringMatching(/^10\.0\.2\.\d+\/24$/) },
      ens256: { mac: macs[2], addr: "10.20.30.40/24" },
    });
  });
});
