/**
 * qemu -device values for the KVM guest's PCIe layout (see plan/pci-layout):
 * one spelling for the qemu script and the boot check, so the guest the
 * check boots is the guest the script runs.
 */

/** pcie-root-port 1..n on pcie.0, slots 2..n+1: buses 1..n. */
export function rootPortDevices(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `pcie-root-port,id=rp${i + 1},bus=pcie.0,chassis=${i + 1},addr=0x${(i + 2).toString(16)}`);
}

/** A disk: virtio-blk alone on its root port, or SATA on q35's built-in AHCI port `sataPort`. */
export function diskDevice(d: { bus: string; pciBus: number | null }, drive: string, sataPort: number, boot: boolean): string {
  const bootIndex = boot ? ",bootindex=1" : "";
  return d.bus === "virtio" ? `virtio-blk-pci,drive=${drive},bus=rp${d.pciBus},addr=0x0${bootIndex}` : `ide-hd,drive=${drive},bus=ide.${sataPort}${bootIndex}`;
}

/** A NIC alone on its root port. */
export function nicDevice(n: { model: string; mac: string | null }, netdev: string, pciBus: number): string {
  return `${n.model === "virtio" ? "virtio-net-pci" : n.model},netdev=${netdev},bus=rp${pciBus},addr=0x0${n.mac ? `,mac=${n.mac}` : ""}`;
}
