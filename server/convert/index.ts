import { FerryError } from "../errors";
import type { Converter } from "./converter";
import type { GuestInspection } from "./guest";
import { linuxConverter } from "./linux";
import { windowsConverter } from "./windows";

/** Guest conversion: inspection, then one converter per guest family, chosen here and nowhere else. */
export type { Converter, ConvertTarget } from "./converter";
export { inspectGuestOs } from "./inspect";
export { Appliance } from "./appliance";

const CONVERTERS: Converter[] = [linuxConverter, windowsConverter];

export function converterFor(g: GuestInspection): Converter {
  const c = CONVERTERS.find((x) => x.osTypes.includes(g.type));
  if (c) return c;
  throw new FerryError({ code: "convert.unsupported-os", message: `the guest's operating system (${g.type}${g.distro !== "unknown" ? `, ${g.distro}` : ""}) is not one Ferry converts`, file: null, hint: "Ferry converts Linux and Windows guests; use --copy-only (in the wizard: untick “Convert for KVM”) to copy the disks as they are" });
}
