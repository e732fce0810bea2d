import type { ConversionNic, TargetPlan } from "../plan";
import type { Appliance } from "./appliance";
import type { ConversionReport, GuestInspection } from "./guest";

/**
 * One converter per guest family (Linux, Windows), as virt-v2v
 * has one module per family behind one interface. The pipeline picks one
 * with converterFor() and knows nothing of what it does inside the guest.
 */

/** What a converter is told about the target hardware, from the plan. */
export interface ConvertTarget {
  /** Source device name (sda) → target (vda). */
  devices: Map<string, string>;
  /** Per NIC: MAC, the ESXi slot name (ens192) and the KVM name (enp1s0). */
  nics: ConversionNic[];
  /** The target's disk names in the order the disks were given to the appliance (vda, vdb...). */
  targetDisks: string[];
  firmware: TargetPlan["firmware"];
  /** The bus the plan gives the disks (virtio, or SATA for a guest without drivers for virtio). */
  diskBus: TargetPlan["disks"][number]["bus"];
  /** Windows: the virtio-win tree the plan's drivers come from (null: emulated devices). */
  virtioWin: string | null;
  log: (message: string) => void;
  warn: (code: string, message: string) => void;
}

export interface Converter {
  /** libguestfs' inspect_get_type values this converter takes (`linux`, `windows`). */
  readonly osTypes: readonly string[];
  /** Refuse, before anything is copied or written, a guest it cannot convert (throws a FerryError saying why and what to do). */
  check(g: GuestInspection, target: Pick<ConvertTarget, "firmware"> & Partial<Pick<ConvertTarget, "diskBus" | "virtioWin">>): void;
  /** Change the guest (through the appliance, which writes only to the overlays) to boot on the target. */
  convert(app: Appliance, g: GuestInspection, target: ConvertTarget): Promise<ConversionReport>;
}
