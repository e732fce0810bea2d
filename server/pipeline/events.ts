import { z } from "zod";
import { ConversionReport, GuestInspection } from "../convert/guest";

/**
 * One event shape for --machine-readable, the job store and SSE. `t` is
 * seconds since the run started, as in virt-v2v's `[  12.3]` lines.
 */
export const ResultFileSchema = z.object({ path: z.string(), kind: z.enum(["disk", "metadata", "nvram", "console", "screenshot"]), bytes: z.number().int().nonnegative() });

export const StageState = z.enum(["started", "finished", "failed", "skipped"]);

export const PipelineEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("stage"), t: z.number(), name: z.string(), index: z.number().int(), total: z.number().int(), state: StageState, seconds: z.number().optional() }),
  z.object({
    type: z.literal("progress"),
    t: z.number(),
    /** 1-based disk number and the number of disks. */
    disk: z.number().int().positive(),
    disks: z.number().int().positive(),
    bytesDone: z.number().nonnegative(),
    bytesTotal: z.number().nonnegative(),
    /** Bytes per second over the last few seconds. */
    rate: z.number().nonnegative(),
  }),
  z.object({ type: z.literal("log"), t: z.number(), message: z.string() }),
  z.object({ type: z.literal("warning"), t: z.number(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal("error"), t: z.number(), code: z.string(), message: z.string(), file: z.string().nullable(), line: z.number().nullable(), hint: z.string().nullable() }),
  z.object({ type: z.literal("result"), t: z.number(), files: z.array(ResultFileSchema) }),
  /** What inspection found inside the guest. */
  z.object({ type: z.literal("inspection"), t: z.number(), guest: GuestInspection }),
  /** What the conversion changed. */
  z.object({ type: z.literal("conversion"), t: z.number(), report: ConversionReport }),
  /** -o libvirt: the domain defined (and started) on the target host. */
  z.object({
    type: z.literal("domain"),
    t: z.number(),
    uri: z.string(),
    name: z.string(),
    uuid: z.string().nullable(),
    pool: z.string(),
    volumes: z.array(z.string()),
    /** virsh domstate once defined (and started): shut off, running... */
    state: z.string(),
    started: z.boolean(),
  }),
  /** The boot check's verdict. */
  z.object({
    type: z.literal("boot"),
    t: z.number(),
    ok: z.boolean(),
    seconds: z.number(),
    accel: z.enum(["kvm", "tcg"]),
    line: z.string().nullable(),
    failure: z.string().nullable(),
    lastLines: z.array(z.string()),
    dhcpFrom: z.array(z.string()),
    /** Per NIC, in plan order: what it did on the isolated network (older events lack it). */
    nics: z.array(z.object({ mac: z.string(), model: z.string(), dhcp: z.boolean(), addresses: z.array(z.string()) })).optional(),
    /** UEFI: the firmware and the boot entry OVMF started. */
    firmware: z.object({ kind: z.enum(["bios", "uefi"]), secureBoot: z.boolean(), varsFromGuest: z.boolean() }).optional(),
    bootEntry: z.string().nullable().optional(),
    /** What proved the boot: a serial-console login prompt, or the guest's network (Windows). */
    proof: z.enum(["serial-login", "network"]).optional(),
    /** Network proof: small screenshots taken along the boot, the last one the end's (a blue screen when it failed). */
    screenshots: z.array(z.object({ seconds: z.number(), png: z.string(), blue: z.boolean() })).optional(),
  }),
]);
export type PipelineEvent = z.infer<typeof PipelineEvent>;
export type ResultFile = Extract<PipelineEvent, { type: "result" }>["files"][number];
