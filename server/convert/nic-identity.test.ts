import { describe, expect, it } from "vitest";
import { ifcfgInterface, ifupdownMacs, keyfileInterface, linkFile, netplanEthernets, pairNics, pinnableName, udevNetRules } from "./nic-identity";

const nics = [
  { sourceId: "ethernet0", mac: "00:0c:29:aa:00:01", vmwareName: "ens192", kvmName: "enp1s0" },
  { sourceId: "ethernet1", mac: "00:0c:29:aa:00:02", vmwareName: "ens224", kvmName: "enp2s0" },
  { sourceId: "ethernet2", mac: "00:0c:29:aa:00:03", vmwareName: "ens256", kvmName: "enp3s0" },
];

describe("pairNics", () => {
  it("pairs by the ESXi slot name, never by order of mention", () => {
    // The configuration lists ens256 first: order would give it to ethernet0.
    const configured = ["ens256", "ens192", "ens224"].map((name) => ({ name, mac: null, file: "/etc/network/interfaces" }));
    expect(pairNics(nics, configured).map((p) => [p.nic.sourceId, p.guestName, p.pairedBy])).toEqual([
      ["ethernet0", "ens192", "pci-slot"],
      ["ethernet1", "ens224", "pci-slot"],
      ["ethernet2", "ens256", "pci-slot"],
    ]);
  });

  it("prefers a MAC the configuration names over the slot name", () => {
    const configured = [{ name: "lan0", mac: "00:0c:29:aa:00:02", file: "/etc/NetworkManager/system-connections/lan0.nmconnection" }];
    const p = pairNics(nics, configured);
    expect(p[1]).toMatchObject({ guestName: "lan0", pairedBy: "mac" });
    expect(p[0]).toMatchObject({ guestName: "ens192", pairedBy: "pci-slot" });
  });

  it("leaves a NIC with neither a configured MAC nor a slot unpaired", () => {
    const p = pairNics([{ sourceId: "ethernet0", mac: null, vmwareName: null, kvmName: "enp1s0" }], [{ name: "eth0", mac: null, file: "x" }]);
    expect(p[0]).toMatchObject({ guestName: null, pairedBy: "none" });
  });

  it("never gives one name to two NICs", () => {
    const p = pairNics(
      [nics[0]!, { ...nics[1]!, vmwareName: "ens192" }],
      [{ name: "ens192", mac: "00:0c:29:aa:00:02", file: "x" }],
    );
    expect(p.map((x) => x.guestName)).toEqual([null, "ens192"]);
  });
});

describe("configuration readers", () => {
  it("read names and MACs from ifcfg, keyfiles, netplan, ifupdown and udev rules", () => {
    expect(ifcfgInterface('DEVICE=ens192\nHWADDR="00:0C:29:AA:00:01"\nBOOTPROTO=none\n', "ens192")).toEqual({ name: "ens192", mac: "00:0c:29:aa:00:01" });
    expect(ifcfgInterface("BOOTPROTO=dhcp\n", "eth0")).toEqual({ name: "eth0", mac: null });
    expect(keyfileInterface("[connection]\nid=lan\ninterface-name=ens224\n[ethernet]\nmac-address=00:0C:29:AA:00:02\n[ipv4]\nmethod=auto\n")).toEqual({ name: "ens224", mac: "00:0c:29:aa:00:02" });
    expect(keyfileInterface("[connection]\nid=x\n[ipv4]\nmethod=auto\n")).toEqual({ name: null, mac: null });
    const netplan = "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        macaddress: \"00:0c:29:aa:00:03\"\n      set-name: ens256\n      addresses: [10.20.30.40/24]\n    ens192:\n      dhcp4: true\n  bridges:\n    br0:\n      interfaces: [ens192]\n";
    expect(netplanEthernets(netplan)).toEqual([{ name: "ens256", mac: "00:0c:29:aa:00:03" }, { name: "ens192", mac: null }]);
    expect([...ifupdownMacs("auto ens192\niface ens192 inet static\n  address 1.2.3.4/24\n  hwaddress ether 00:0c:29:aa:00:01\niface ens224 inet dhcp\n")]).toEqual([["ens192", "00:0c:29:aa:00:01"]]);
    expect(udevNetRules('# comment\nSUBSYSTEM=="net", ACTION=="add", ATTR{address}=="00:0C:29:AA:00:01", NAME="eth0"\n')).toEqual([{ name: "eth0", mac: "00:0c:29:aa:00:01" }]);
  });

  it("writes a .link file that names the interface by its MAC, and pins only names udev may give", () => {
    const text = linkFile("ens192", "00:0c:29:aa:00:01", "ethernet0");
    expect(text).toMatch(/^\[Match\]\nMACAddress=00:0c:29:aa:00:01\n\n\[Link\]\nName=ens192\n$/m);
    expect(pinnableName("ens192")).toBe(true);
    expect(pinnableName("eth0")).toBe(false);
    expect(pinnableName("a-very-long-interface")).toBe(false);
    expect(pinnableName("ens1;rm")).toBe(false);
  });
});
