import { describe, expect, it } from "vitest";
import { deviceMap } from "../plan";
import { addModuleLines, dropHwaddr, ensureSerialConsole, ifupdownInterfaces, interfaceRenames, netplanInterfaces, pinKernelRoot, remapDevices, renameInterfaces } from "./remap";

const map = deviceMap([
  { bus: "scsi", targetDev: "vda" },
  { bus: "scsi", targetDev: null }, // left out
  { bus: "scsi", targetDev: "vdb" },
]);

describe("device names", () => {
  it("maps the source's sdX order to the target's, skipping excluded disks; IDE disks also by hdX", () => {
    expect(Object.fromEntries(map)).toEqual({ sda: "vda", sdc: "vdb" });
    expect(Object.fromEntries(deviceMap([{ bus: "ide", targetDev: "vda" }, { bus: "scsi", targetDev: "vdb" }]))).toEqual({ sda: "vda", hda: "vda", sdb: "vdb" });
  });

  it("rewrites fstab device names with partitions, keeps UUID=, LABEL= and by-id entries", () => {
    const fstab = "/dev/sda1 / ext4 errors=remount-ro 0 1\nUUID=abcd /boot ext4 defaults 0 2\nLABEL=data /data xfs defaults 0 0\n/dev/disk/by-id/scsi-0 /x ext4 defaults 0 0\n/dev/sdc2 /srv ext4 defaults 0 2\n/dev/sdb1 /unknown ext4 defaults 0 2\n/dev/sdaa1 /big ext4 defaults 0 0\n";
    const r = remapDevices(fstab, map);
    expect(r.text).toBe("/dev/vda1 / ext4 errors=remount-ro 0 1\nUUID=abcd /boot ext4 defaults 0 2\nLABEL=data /data xfs defaults 0 0\n/dev/disk/by-id/scsi-0 /x ext4 defaults 0 0\n/dev/vdb2 /srv ext4 defaults 0 2\n/dev/sdb1 /unknown ext4 defaults 0 2\n/dev/sdaa1 /big ext4 defaults 0 0\n");
    expect(r.edits).toEqual([{ from: "/dev/sda1", to: "/dev/vda1" }, { from: "/dev/sdc2", to: "/dev/vdb2" }]);
  });

  it("rewrites the grub command line (root= and resume=) and whole disks", () => {
    const r = remapDevices('GRUB_CMDLINE_LINUX="root=/dev/sda1 resume=/dev/sda2 ro"\n(hd0) /dev/sda\n', map);
    expect(r.text).toBe('GRUB_CMDLINE_LINUX="root=/dev/vda1 resume=/dev/vda2 ro"\n(hd0) /dev/vda\n');
  });

  it("leaves a file without old names untouched", () => {
    expect(remapDevices("UUID=1 / ext4 defaults 0 1\n", map)).toEqual({ text: "UUID=1 / ext4 defaults 0 1\n", edits: [] });
  });
});

describe("network names", () => {
  it("finds ifupdown interfaces in order, not lo, bridges or VLANs", () => {
    const t = "auto lo\niface lo inet loopback\n# iface eth9 inet dhcp\nallow-hotplug ens192\niface ens192 inet dhcp\nauto br0 ens224\niface br0 inet static\niface ens192.10 inet manual\n";
    expect(ifupdownInterfaces(t)).toEqual(["ens192", "ens224"]);
  });

  it("finds netplan ethernets", () => {
    const t = "network:\n  version: 2\n  ethernets:\n    ens160:\n      dhcp4: true\n    eth1:\n      addresses: [10.0.0.2/24]\n  bridges:\n    br0:\n      interfaces: [ens160]\n";
    expect(netplanInterfaces(t)).toEqual(["ens160", "eth1"]);
  });

  it("renames whole words only and pairs names in order", () => {
    const renames = interfaceRenames(["ens192", "ens224", "ens256"], ["enp1s0", "enp2s0"]);
    expect(Object.fromEntries(renames)).toEqual({ ens192: "enp1s0", ens224: "enp2s0" });
    const r = renameInterfaces("allow-hotplug ens192\niface ens192 inet dhcp\niface ens1920 inet dhcp\niface ens192.10 inet manual\n", renames);
    expect(r.text).toBe("allow-hotplug enp1s0\niface enp1s0 inet dhcp\niface ens1920 inet dhcp\niface enp1s0.10 inet manual\n");
    expect(r.edits).toEqual([{ from: "ens192", to: "enp1s0" }]);
    expect(interfaceRenames(["enp1s0"], ["enp1s0"]).size).toBe(0);
  });

  it("renames in one pass, so swapped names do not collapse into one", () => {
    const r = renameInterfaces("auto enp2s0\niface enp2s0 inet dhcp\nauto enp1s0\niface enp1s0 inet dhcp\n", new Map([["enp2s0", "enp1s0"], ["enp1s0", "enp2s0"]]));
    expect(r.text).toBe("auto enp1s0\niface enp1s0 inet dhcp\nauto enp2s0\niface enp2s0 inet dhcp\n");
  });

  it("drops HWADDR from ifcfg files (the MAC may change)", () => {
    expect(dropHwaddr("DEVICE=ens192\nHWADDR=00:50:56:aa:bb:cc\nBOOTPROTO=dhcp\n")).toBe("DEVICE=ens192\nBOOTPROTO=dhcp\n");
  });
});

describe("serial console and modules", () => {
  it("adds console=ttyS0 to GRUB_CMDLINE_LINUX once", () => {
    const a = ensureSerialConsole('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="quiet"\n');
    expect(a).toEqual({ text: 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="quiet console=tty0 console=ttyS0,115200n8"\n', changed: true });
    expect(ensureSerialConsole(a.text).changed).toBe(false);
    expect(ensureSerialConsole('GRUB_CMDLINE_LINUX=""\n').text).toBe('GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"\n');
    expect(ensureSerialConsole("GRUB_TIMEOUT=5").text).toBe('GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"\n');
  });

  it("adds only the missing modules to /etc/initramfs-tools/modules", () => {
    expect(addModuleLines("# comment\nvmw_pvscsi\nvirtio_blk\n", ["virtio_blk", "virtio_scsi"])).toBe("# comment\nvmw_pvscsi\nvirtio_blk\n# added by Ferry for KVM\nvirtio_scsi\n");
    expect(addModuleLines("virtio_blk", ["virtio_blk"])).toBe("virtio_blk");
  });
});

describe("pinKernelRoot", () => {
  it("points root=/dev/... on kernel lines at the target's root, whatever the appliance called it", () => {
    const cfg = "menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1 root=/dev/sdb1 ro console=ttyS0\n\tinitrd\t/boot/initrd.img-6.1\n}\n\tlinux /boot/vmlinuz-6.1 root=UUID=abc ro\n\tlinux16 /vmlinuz root=/dev/sda1\n";
    const r = pinKernelRoot(cfg, "/dev/vda1");
    expect(r.text).toBe("menuentry 'Debian' {\n\tlinux\t/boot/vmlinuz-6.1 root=/dev/vda1 ro console=ttyS0\n\tinitrd\t/boot/initrd.img-6.1\n}\n\tlinux /boot/vmlinuz-6.1 root=UUID=abc ro\n\tlinux16 /vmlinuz root=/dev/vda1\n");
    expect(r.edits).toEqual([{ from: "/dev/sdb1", to: "/dev/vda1" }, { from: "/dev/sda1", to: "/dev/vda1" }]);
    expect(pinKernelRoot("linux /k root=/dev/mapper/vg-root ro\n", "/dev/vda1").edits).toEqual([]);
  });
});
