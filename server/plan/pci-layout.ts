import type { TargetPlan } from "./target-plan";

/**
 * Where each device sits on the KVM guest's PCIe tree. One layout for the
 * libvirt XML, the qemu script and the boot check, because the guest's
 * interface names follow it: a NIC at bus 1, slot 0 is `enp1s0` in every
 * Linux with systemd's predictable names, so the conversion can write the
 * name the guest will actually see.
 *
 * Each NIC and each virtio disk gets its own pcie-root-port (as libvirt does
 * on q35): NIC i on bus i+1, then virtio disks. SATA disks sit on the
 * machine's built-in AHCI controller.
 */
export interface PciLayout {
  /** Bus number per NIC, in plan order. */
  nicBus: number[];
  /** Bus number per disk, or null for a SATA disk. */
  diskBus: Array<number | null>;
  /** How many root ports (buses 1..rootPorts). */
  rootPorts: number;
}

export function pciLayout(plan: Pick<TargetPlan, "nics" | "disks">): PciLayout {
  const nicBus = plan.nics.map((_, i) => i + 1);
  let next = nicBus.length + 1;
  const diskBus = plan.disks.map((d) => (d.bus === "virtio" ? next++ : null));
  return { nicBus, diskBus, rootPorts: next - 1 };
}

/** The name systemd gives a NIC in slot 0 of PCI bus N (predictable names, path policy). */
export function guestNicName(bus: number): string {
  return `enp${bus}s0`;
}

/** The name systemd gives a NIC in ESXi's PCI slot N (the ACPI slot number): `ens192`. */
export function vmwareNicName(pciSlot: number): string {
  return `ens${pciSlot}`;
}
