/** Output kinds behind one interface: -o local (libvirt XML), -o qemu (a script), -o json, -o libvirt (a defined domain). */
import { freeBytes } from "../host-fs";
import type { OutputMode, TargetPlan } from "../plan";
import { jsonMetadata } from "./json-output";
import { libvirtXml } from "./libvirt-xml";
import { openLibvirtOutput } from "./libvirt-output";
import { openOutput, type Output } from "./output";
import { qemuScript } from "./qemu-script";

export { openOutput, plannedOutputs, type Output, type DefinedDomain, type CommitReport } from "./output";
export { libvirtXml, xmlEscape } from "./libvirt-xml";
export { qemuScript } from "./qemu-script";
export { jsonMetadata } from "./json-output";

interface Kind {
  /** Open the destination: refuse what cannot work, then stage. */
  open: (plan: TargetPlan) => Output | Promise<Output>;
  /** The metadata the Review step shows, for the final disk paths. */
  preview: (plan: TargetPlan, disks: string[]) => string;
  /** Where the disks go, in words for messages. */
  where: (plan: TargetPlan) => string;
  /** The destination as virt-v2v's options say it. */
  args: (plan: TargetPlan) => string;
}

const folder = (content: (plan: TargetPlan, disks: string[]) => string): Kind => ({ open: openOutput, preview: content, where: (p) => `the output folder ${p.output.dir}`, args: (p) => `-o ${p.output.mode} -os ${p.output.dir}` });

/** The one place an output kind is chosen. */
const KINDS: Record<OutputMode, Kind> = {
  local: folder(libvirtXml),
  qemu: folder(qemuScript),
  json: folder(jsonMetadata),
  libvirt: { open: openLibvirtOutput, preview: libvirtXml, where: (p) => `storage pool "${p.output.libvirt?.pool}" (${p.output.dir})`, args: (p) => `-o libvirt -oc ${p.output.libvirt?.uri} -os ${p.output.libvirt?.pool}` },
};

export function openDestination(plan: TargetPlan): Promise<Output> {
  return Promise.resolve(KINDS[plan.output.mode].open(plan));
}

export function previewMetadata(plan: TargetPlan, disks: string[]): string {
  return KINDS[plan.output.mode].preview(plan, disks);
}

export function destinationArgs(plan: TargetPlan): string {
  return KINDS[plan.output.mode].args(plan);
}

export function destinationName(plan: TargetPlan): string {
  return KINDS[plan.output.mode].where(plan);
}

/** Bytes free where the disks go (every kind writes into a folder on this host). */
export function destinationFreeBytes(plan: TargetPlan): number {
  return freeBytes(plan.output.dir);
}
