import type { Fields } from "./fields";
import type { Nic } from "./source-vm";

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

/** A MAC from the VMX, lowercased; null (with a warning) when absent, malformed or all zeros. */
function readMac(f: Fields, key: string, id: string): string | null {
  const e = f.tree.get(key);
  if (!e) return null;
  const mac = e.value.trim().toLowerCase().replace(/-/g, ":");
  if (!MAC.test(mac)) {
    f.warn("vmx.nic.bad-mac", `${e.key} = "${e.value}" is not a MAC address; ${id} gets no MAC`, e.line);
    return null;
  }
  if (mac === "00:00:00:00:00:00") return null;
  return mac;
}

/** `pciSlotNumber` as ESXi writes it; -1 (unassigned) and anything else not a slot read as unknown. */
function pciSlot(f: Fields, id: string): number | null {
  const v = f.str(`${id}.pciSlotNumber`)?.trim();
  if (v === undefined || v === null || !/^\d{1,5}$/.test(v)) return null;
  return Number(v);
}

export function readNics(f: Fields): Nic[] {
  const found = f.tree
    .topLevel(/^ethernet(\d+)$/)
    .filter(({ match }) => /^\d{1,4}$/.test(match[1]!))
    .map(({ name, match }) => ({ id: name, index: Number(match[1]) }))
    .sort((a, b) => a.index - b.index);
  const nics: Nic[] = [];
  for (const { id, index } of found) {
    const lines = f.tree.linesUnder(id);
    if (f.tree.get(`${id}.present`) === undefined) {
      f.warn("vmx.device.no-present", `${id} has no ${id}.present line; read as present`, lines[0] ?? null);
    }
    let model = f.lower(`${id}.virtualDev`);
    // vmxnet with the "enhanced" feature bits is vmxnet2, as libvirt reports it.
    if (model === "vmxnet" && f.str(`${id}.features`)?.trim() === "15") model = "vmxnet2";

    const macType = f.lower(`${id}.addressType`);
    // virt-v2v drops static MACs; a guest whose licence or DHCP lease is tied to its MAC needs it.
    const macKey =
      macType === "static"
        ? `${id}.address`
        : macType === "generated" || macType === "vpx"
          ? `${id}.generatedAddress`
          : f.tree.get(`${id}.generatedAddress`)
            ? `${id}.generatedAddress`
            : `${id}.address`;
    const mac = readMac(f, macKey, id);
    if (mac === null && f.tree.get(macKey) === undefined) {
      f.warn("vmx.nic.no-mac", `${id} has no MAC address (no ${macKey.slice(id.length + 1)} line); it gets a new MAC on KVM`, lines[0] ?? null);
    }

    const networkName = f.text(`${id}.networkName`);
    const vnet = f.text(`${id}.vnet`);
    const n = nics.length;
    nics.push({
      id,
      index,
      model,
      mac,
      macType,
      network: networkName ?? vnet,
      connectionType: f.lower(`${id}.connectionType`),
      portgroup: f.str(`${id}.dvs.portgroupId`) ?? null,
      startConnected: f.bool(`${id}.startConnected`, true),
      pciSlot: pciSlot(f, id),
      lines,
    });
    f.provenance[`nics.${n}`] = lines;
    f.from(`nics.${n}.model`, `${id}.virtualDev`, ...(model === "vmxnet2" ? [`${id}.features`] : []));
    f.from(`nics.${n}.mac`, `${id}.addressType`, macKey);
    f.from(`nics.${n}.network`, networkName ? `${id}.networkName` : `${id}.vnet`);
    f.from(`nics.${n}.connectionType`, `${id}.connectionType`);
    f.from(`nics.${n}.pciSlot`, `${id}.pciSlotNumber`);
  }
  return nics;
}
