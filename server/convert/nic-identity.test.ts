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

describe("static addresses", () => {
  it("reads them from ifupdown, netplan, keyfiles and ifcfg, IPv4 only", async () => {
    const { ifupdownAddresses, netplanAddresses, keyfileAddresses, ifcfgAddresses, ipv4Cidr } = await import("./nic-identity");
    const ifup = "auto lo\niface lo inet loopback\nallow-hotplug ens256\niface ens256 inet static\n\taddress 10.20.30.40/24\niface ens192 inet static\n  address 192.168.50.10\n  netmask 255.255.255.0\n  gateway 192.168.50.1\niface ens224 inet dhcp\niface ens192 inet6 static\n  address fd00::1/64\n";
    expect([...ifupdownAddresses(ifup)]).toEqual([["ens256", ["10.20.30.40/24"]], ["ens192", ["192.168.50.10/24"]]]);
    const netplan = "network:\n  ethernets:\n    ens256:\n      addresses: [10.20.30.40/24, \"fd00::1/64\"]\n    lan:\n      match:\n        macaddress: 00:0c:29:aa:00:01\n      set-name: ens192\n      addresses:\n        - 192.168.50.10/24\n      routes:\n        - to: default\n          via: 192.168.50.1\n    ens224:\n      dhcp4: true\n";
    expect([...netplanAddresses(netplan)]).toEqual([["ens256", ["10.20.30.40/24"]], ["ens192", ["192.168.50.10/24"]]]);
    expect(keyfileAddresses("[connection]\ninterface-name=ens192\n[ipv4]\nmethod=manual\naddress1=192.168.50.10/24,192.168.50.1\ndns=192.168.50.1;\n[ipv6]\naddress1=fd00::1/64\n")).toEqual(["192.168.50.10/24"]);
    expect(ifcfgAddresses('DEVICE=ens192\nIPADDR=192.168.50.10\nPREFIX="24"\n')).toEqual(["192.168.50.10/24"]);
    expect(ifcfgAddresses("DEVICE=ens192\nIPADDR=10.1.2.3\nNETMASK=255.255.0.0\n")).toEqual(["10.1.2.3/16"]);
    expect(ipv4Cidr("300.1.1.1/24")).toBeNull();
    expect(ipv4Cidr("1.2.3.4/33")).toBeNull();
  });

  it("lays qemu's user network out as the guest's subnet, its own addresses never the guest's", async () => {
    const { staticNet } = await import("../qemu/static-probe");
    expect(staticNet("192.168.50.10/24")).toEqual({ address: "192.168.50.10", netdev: "net=192.168.50.0/24,host=192.168.50.1,dns=192.168.50.2,dhcpstart=192.168.50.3" });
    expect(staticNet("10.20.30.1/24")!.netdev).toBe("net=10.20.30.0/24,host=10.20.30.2,dns=10.20.30.3,dhcpstart=10.20.30.4");
    expect(staticNet("10.0.0.1/30")).toBeNull();
    expect(staticNet("bogus")).toBeNull();
  });
});
