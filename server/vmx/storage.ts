import type { Fields } from "./fields";
import { resolveAgainst } from "./paths";
import type { Bus, Cdrom, Controller, Disk, Floppy } from "./source-vm";

/** Hard-disk `deviceType`s; absent means a disk too, except on IDE (see below). */
const DISK_TYPES = new Set(["scsi-harddisk", "disk", "plaindisk", "rawdisk", "ata-harddisk"]);
const CDROM_TYPES = new Map<string, "image" | "device">([
  ["cdrom-image", "image"],
  ["cdrom-raw", "device"],
  ["atapi-cdrom", "device"],
]);

/** The order virt-v2v and libvirt list disks in: SCSI, NVMe, SATA, IDE. */
export const BUS_ORDER: Bus[] = ["scsi", "nvme", "sata", "ide"];

/** What VMware hardware allows; beyond it the file was edited by hand. */
const LIMITS: Record<Bus, { controllers: number; units: number }> = {
  scsi: { controllers: 4, units: 64 },
  sata: { controllers: 4, units: 30 },
  nvme: { controllers: 4, units: 64 },
  ide: { controllers: 2, units: 2 },
};

export interface StorageDevices {
  controllers: Controller[];
  disks: Disk[];
  cdroms: Cdrom[];
  /** Generic SCSI passthrough devices (`scsi-passthru`), for concerns. */
  passthrough: { id: string; lines: number[] }[];
}

interface Slot {
  name: string;
  bus: Bus;
  controller: number;
  unit: number;
}

function slotOrder(a: Slot, b: Slot): number {
  return BUS_ORDER.indexOf(a.bus) - BUS_ORDER.indexOf(b.bus) || a.controller - b.controller || a.unit - b.unit;
}

const SMALL_INT = /^\d{1,4}$/;

export function readStorage(f: Fields, vmxPath: string): StorageDevices {
  const absent = new Set(f.tree.absent.map((a) => a.key.toLowerCase()));
  const slots: Slot[] = [];
  for (const { name, match } of f.tree.topLevel(/^(scsi|sata|nvme|ide)(\d+):(\d+)$/)) {
    if (!SMALL_INT.test(match[2]!) || !SMALL_INT.test(match[3]!)) continue;
    slots.push({ name, bus: match[1] as Bus, controller: Number(match[2]), unit: Number(match[3]) });
  }
  slots.sort(slotOrder);

  const controllers = new Map<string, Controller>();
  const controllerFor = (bus: Bus, index: number): Controller => {
    const id = `${bus}${index}`;
    let c = controllers.get(id);
    if (!c) {
      const declared = f.tree.get(`${id}.present`) !== undefined;
      const virtualDev = f.lower(`${id}.virtualDev`);
      c = {
        id,
        bus,
        index,
        model: virtualDev ?? (bus === "sata" ? "ahci" : bus === "nvme" ? "nvme" : null),
        declared,
        sharedBus: bus === "scsi" ? f.lower(`${id}.sharedBus`) : null,
        lines: f.tree.linesUnder(id),
      };
      controllers.set(id, c);
    }
    return c;
  };
  // Controllers declared present, even with nothing attached.
  for (const { match } of f.tree.topLevel(/^(scsi|sata|nvme|ide)(\d+)$/)) {
    if (!SMALL_INT.test(match[2]!)) continue;
    if (f.tree.get(`${match[0]}.present`)) controllerFor(match[1] as Bus, Number(match[2]));
  }

  const disks: Disk[] = [];
  const cdroms: Cdrom[] = [];
  const passthrough: StorageDevices["passthrough"] = [];
  for (const s of slots) {
    const id = s.name;
    const lines = f.tree.linesUnder(id);
    const firstLine = lines[0] ?? null;
    const ctrlId = `${s.bus}${s.controller}`;
    const limit = LIMITS[s.bus];
    if (absent.has(ctrlId)) {
      f.warn("vmx.device.controller-absent", `${id} is ignored: its controller ${ctrlId} is marked not present`, firstLine);
      continue;
    }
    if (f.tree.get(`${id}.present`) === undefined) {
      f.warn("vmx.device.no-present", `${id} has no ${id}.present line; read as present`, firstLine);
    }
    const rawType = f.str(`${id}.deviceType`) ?? null;
    const type = rawType?.trim().toLowerCase() ?? null;
    const fileName = f.str(`${id}.fileName`) ?? null;
    const file = f.text(`${id}.fileName`);
    if (s.controller >= limit.controllers || s.unit >= limit.units) {
      f.warn("vmx.device.out-of-range", `${id} is outside what VMware hardware allows (${s.bus} ${limit.controllers} controllers × ${limit.units} units); read anyway`, firstLine);
    }

    const isDisk =
      type !== null ? DISK_TYPES.has(type) : s.bus !== "ide" || (fileName !== null && /\.vmdk$/i.test(fileName.trim()));
    const cdKind = type !== null ? CDROM_TYPES.get(type) : undefined;

    if (isDisk) {
      const ctrl = controllerFor(s.bus, s.controller);
      if (!ctrl.declared) {
        f.warn("vmx.controller.undeclared", `${ctrlId} has no ${ctrlId}.present line; ${id} is kept on it`, firstLine);
      }
      if (file === null) {
        f.warn("vmx.disk.no-file", `${id} is a disk without a fileName; it cannot be converted`, firstLine);
      }
      const n = disks.length;
      disks.push({
        id,
        bus: s.bus,
        controller: s.controller,
        unit: s.unit,
        file,
        path: file ? resolveAgainst(vmxPath, file) : null,
        mode: f.lower(`${id}.mode`) ?? "persistent",
        deviceType: rawType,
        lines,
      });
      f.provenance[`disks.${n}`] = lines;
      f.from(`disks.${n}.file`, `${id}.fileName`);
      f.from(`disks.${n}.mode`, `${id}.mode`);
      f.from(`disks.${n}.deviceType`, `${id}.deviceType`);
    } else if (cdKind) {
      controllerFor(s.bus, s.controller);
      const n = cdroms.length;
      cdroms.push({
        id,
        bus: s.bus,
        controller: s.controller,
        unit: s.unit,
        kind: cdKind,
        deviceType: rawType!,
        file,
        path: cdKind === "image" && file ? resolveAgainst(vmxPath, file) : null,
        startConnected: f.bool(`${id}.startConnected`, true),
        clientDevice: f.bool(`${id}.clientDevice`, false),
        lines,
      });
      f.provenance[`cdroms.${n}`] = lines;
      f.from(`cdroms.${n}.file`, `${id}.fileName`);
    } else if (type === "scsi-passthru") {
      passthrough.push({ id, lines });
    } else if (type !== null) {
      f.warn("vmx.device.unknown-type", `${id} has deviceType "${rawType}", which Ferry does not know; skipped`, f.line(`${id}.deviceType`));
    } else if (fileName !== null) {
      f.warn("vmx.device.unknown-type", `${id} has no deviceType and "${fileName}" is not a .vmdk; skipped`, firstLine);
    }
  }

  const ordered = [...controllers.values()].sort((a, b) => slotOrder(
    { name: a.id, bus: a.bus, controller: a.index, unit: 0 },
    { name: b.id, bus: b.bus, controller: b.index, unit: 0 },
  ));
  ordered.forEach((c, i) => {
    f.provenance[`controllers.${i}`] = c.lines;
    f.from(`controllers.${i}.model`, `${c.id}.virtualDev`);
  });
  return { controllers: ordered, disks, cdroms, passthrough };
}

export function readFloppies(f: Fields, vmxPath: string): Floppy[] {
  const found = f.tree
    .topLevel(/^floppy(\d+)$/)
    .filter(({ match }) => SMALL_INT.test(match[1]!))
    .map(({ name, match }) => ({ name, index: Number(match[1]) }))
    .sort((a, b) => a.index - b.index);
  const out: Floppy[] = [];
  for (const { name, index } of found) {
    // Only drives declared present, as libvirt reads them: ESXi leaves a
    // disconnected "vmware-null-remote-floppy" without a present line.
    if (!f.bool(`${name}.present`, false)) continue;
    const kind = f.lower(`${name}.fileType`) === "file" ? "image" : "device";
    const fileName = f.text(`${name}.fileName`);
    const lines = f.tree.linesUnder(name);
    const n = out.length;
    out.push({
      id: name,
      index,
      kind,
      file: fileName,
      path: kind === "image" && fileName ? resolveAgainst(vmxPath, fileName) : null,
      startConnected: f.bool(`${name}.startConnected`, true),
      clientDevice: f.bool(`${name}.clientDevice`, false),
      lines,
    });
    f.provenance[`floppies.${n}`] = lines;
  }
  return out;
}
