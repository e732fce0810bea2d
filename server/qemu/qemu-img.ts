import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { FerryError } from "../errors";
import { ProgressParser } from "./progress";

/**
 * The only place that runs qemu-img. Every call names the input format
 * (`-f`, and `-F` for backing files), takes only absolute, already
 * validated paths (an absolute path can never be read as `nbd:` or `json:`),
 * and runs under resource limits (prlimit) and a wall-clock timeout, so a
 * hostile file can neither exhaust the host nor hang a job (a FIFO times out).
 */

export interface Limits {
  addressSpaceBytes: number;
  cpuSeconds: number | null;
  timeoutMs: number | null;
}

/** info, map, measure: small, quick reads. */
export const QUERY_LIMITS: Limits = { addressSpaceBytes: 1024 ** 3, cpuSeconds: 30, timeoutMs: 60_000 };
/** convert: long-running; a stall watchdog replaces the wall clock. */
export const CONVERT_LIMITS: Limits = { addressSpaceBytes: 2 * 1024 ** 3, cpuSeconds: null, timeoutMs: null };

export type Format = "vmdk" | "raw" | "qcow2";
const FORMATS = new Set<Format>(["vmdk", "raw", "qcow2"]);

let started = 0;
// glibc reserves 64 MiB of address space per thread arena; under the
// address-space limit that makes thread creation fail at random (EAGAIN).
const QEMU_ENV = { ...process.env, LC_ALL: "C", MALLOC_ARENA_MAX: "2" };
const HAS_SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].some((p) => existsSync(p));
/** How many qemu-img processes this process has started (tests assert none for refused input). */
export function qemuImgProcessesStarted(): number {
  return started;
}

export function safePath(p: string): string {
  if (!isAbsolute(p) || p.includes("\0") || normalize(p) !== p) {
    throw new FerryError({ code: "qemu.path", message: `refusing to give qemu-img the path "${p}"`, file: p, hint: "only absolute, normalised paths that Ferry validated may reach qemu-img" });
  }
  return p;
}

function safeFormat(f: string): Format {
  if (!FORMATS.has(f as Format)) throw new FerryError({ code: "qemu.format", message: `format "${f}" is not allowed`, file: null, hint: "vmdk, raw or qcow2" });
  return f as Format;
}

export interface RunOptions {
  limits: Limits;
  /** Added to qemu-img's environment (an ssh-agent socket for a remote source). */
  env?: Record<string, string>;
  signal?: AbortSignal;
  onStdout?: (chunk: string) => void;
  /** Kill the process when this many ms pass without stdout output (convert's stall watchdog). */
  stallMs?: number;
  /** The file the command is about, for error messages. */
  file?: string;
  /** Told the process id once qemu-img starts. */
  onSpawn?: (pid: number) => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run qemu-img with arguments built by the functions below. */
export function runQemuImg(args: string[], options: RunOptions): Promise<RunResult> {
  const { limits } = options;
  const prlimit = [`--as=${limits.addressSpaceBytes}`, ...(limits.cpuSeconds ? [`--cpu=${limits.cpuSeconds}`] : []), "--", "qemu-img", ...args];
  return new Promise((resolvePromise, reject) => {
    if (options.signal?.aborted) {
      reject(new FerryError({ code: "qemu.cancelled", message: "cancelled before qemu-img started", file: options.file ?? null, hint: null }));
      return;
    }
    started++;
    // setpriv --pdeathsig: if Ferry dies (even kill -9), qemu-img dies with it instead of writing on.
    const [command, ...argv] = HAS_SETPRIV ? ["setpriv", "--pdeathsig", "KILL", "--", "prlimit", ...prlimit] : ["prlimit", ...prlimit];
    const child = spawn(command!, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...QEMU_ENV, ...options.env } });
    options.onSpawn?.(child.pid ?? 0);
    let stdout = "";
    let stderr = "";
    let killedFor: "timeout" | "stall" | "cancel" | null = null;
    const kill = (why: typeof killedFor) => {
      if (killedFor) return;
      killedFor = why;
      child.kill("SIGKILL");
    };
    const timer = limits.timeoutMs ? setTimeout(() => kill("timeout"), limits.timeoutMs) : null;
    let stallTimer: NodeJS.Timeout | null = null;
    const armStall = () => {
      if (!options.stallMs) return;
      if (stallTimer) clearTimeout(stallTimer);
      stallTimer = setTimeout(() => kill("stall"), options.stallMs);
    };
    armStall();
    const onAbort = () => kill("cancel");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (c: string) => {
      if (stdout.length < 16 * 1024 * 1024) stdout += c;
      armStall();
      options.onStdout?.(c);
    });
    child.stderr.on("data", (c: string) => {
      if (stderr.length < 64 * 1024) stderr += c;
    });
    const done = () => {
      if (timer) clearTimeout(timer);
      if (stallTimer) clearTimeout(stallTimer);
      options.signal?.removeEventListener("abort", onAbort);
    };
    child.on("error", (e) => {
      done();
      reject(new FerryError({ code: "qemu.spawn", message: `cannot run qemu-img: ${e.message}`, file: options.file ?? null, hint: "install Debian's qemu-utils package (npm run setup does)" }));
    });
    child.on("close", (code) => {
      done();
      if (killedFor === "timeout") {
        reject(new FerryError({ code: "qemu.timeout", message: `qemu-img ${args[0]} did not finish within ${limits.timeoutMs! / 1000} s`, file: options.file ?? null, hint: "the file may be a FIFO, on a hung NAS mount, or crafted to stall the reader" }));
      } else if (killedFor === "stall") {
        reject(new FerryError({ code: "qemu.stalled", message: `qemu-img ${args[0]} made no progress for ${options.stallMs! / 1000} s`, file: options.file ?? null, hint: "check the NAS mount and the network; then retry" }));
      } else if (killedFor === "cancel") {
        reject(new FerryError({ code: "qemu.cancelled", message: `qemu-img ${args[0]} was cancelled`, file: options.file ?? null, hint: null }));
      } else if (code !== 0) {
        const last = stderr.trim().split("\n").pop() ?? "";
        reject(new FerryError({ code: "qemu.failed", message: `qemu-img ${args[0]} failed (exit ${code})${last ? `: ${last.replace(/^qemu-img: /, "")}` : ""}`, file: options.file ?? null, hint: null }));
      } else {
        resolvePromise({ stdout, stderr });
      }
    });
  });
}

export interface ImageInfo {
  filename: string;
  format: string;
  virtualSize: number;
  actualSize: number | null;
  backingFilename: string | null;
}

/** `qemu-img info --backing-chain`: the image first, its base last. */
export async function info(path: string, format: Format, signal?: AbortSignal, limits: Limits = QUERY_LIMITS): Promise<ImageInfo[]> {
  const p = safePath(path);
  const { stdout } = await runQemuImg(["info", "-f", safeFormat(format), "--backing-chain", "--output=json", p], { limits, signal, file: p });
  const raw = JSON.parse(stdout) as Record<string, unknown>[];
  return raw.map((i) => ({
    filename: String(i["filename"]),
    format: String(i["format"]),
    virtualSize: Number(i["virtual-size"]),
    actualSize: typeof i["actual-size"] === "number" ? (i["actual-size"] as number) : null,
    backingFilename: typeof i["backing-filename"] === "string" ? (i["backing-filename"] as string) : null,
  }));
}

export interface MapEntry {
  start: number;
  length: number;
  depth: number;
  data: boolean;
  zero: boolean;
}

export async function map(path: string, format: Format, signal?: AbortSignal): Promise<MapEntry[]> {
  const p = safePath(path);
  const { stdout } = await runQemuImg(["map", "-f", safeFormat(format), "--output=json", p], { limits: QUERY_LIMITS, signal, file: p });
  return (JSON.parse(stdout) as Record<string, unknown>[]).map((e) => ({
    start: Number(e["start"]),
    length: Number(e["length"]),
    depth: Number(e["depth"]),
    data: e["data"] === true,
    zero: e["zero"] === true,
  }));
}

/** Bytes of data in an image, from its map (what a sparse copy writes). */
export function dataBytes(entries: MapEntry[]): number {
  return entries.filter((e) => e.data).reduce((s, e) => s + e.length, 0);
}

export interface Measure {
  required: number;
  fullyAllocated: number;
}

export async function measure(path: string, format: Format, outputFormat: Format, signal?: AbortSignal, env?: Record<string, string>): Promise<Measure> {
  const p = safePath(path);
  const { stdout } = await runQemuImg(["measure", "-f", safeFormat(format), "-O", safeFormat(outputFormat), "--output=json", p], { limits: QUERY_LIMITS, signal, file: p, env });
  const m = JSON.parse(stdout) as { required: number; "fully-allocated": number };
  return { required: m.required, fullyAllocated: m["fully-allocated"] };
}

/**
 * A qcow2 overlay over a validated source: every later step reads the
 * overlay, and qemu opens the backing file read-only, so the source is
 * never written.
 */
export async function createOverlay(overlay: string, backing: string, backingFormat: Format, signal?: AbortSignal, env?: Record<string, string>): Promise<void> {
  const o = safePath(overlay);
  const b = safeBacking(backing);
  await runQemuImg(["create", "-q", "-f", "qcow2", "-b", b, "-F", safeFormat(backingFormat), o], { limits: QUERY_LIMITS, signal, file: b.startsWith("json:") ? "the remote disk" : b, env });
}

/**
 * A backing file: an absolute path, or a `json:` name of exactly the shape
 * the SSH input builds (vmdk or raw over qemu's ssh driver, host key pinned
 * by sha256, no backing of its own), nothing else qemu would accept.
 */
export function safeBacking(b: string): string {
  if (!b.startsWith("json:")) return safePath(b);
  const refuse = () => new FerryError({ code: "qemu.backing", message: "refusing a json: backing that Ferry did not build", file: null, hint: "only the SSH input's pinned ssh sources may reach qemu-img" });
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(b.slice(5)) as Record<string, unknown>;
  } catch {
    throw refuse();
  }
  const f = j["file"] as Record<string, unknown> | undefined;
  const server = f?.["server"] as Record<string, unknown> | undefined;
  const hkc = f?.["host-key-check"] as Record<string, unknown> | undefined;
  const keysOk = (o: Record<string, unknown> | undefined, keys: string[]) => !!o && Object.keys(o).every((k) => keys.includes(k));
  const ok =
    (j["driver"] === "vmdk" ? keysOk(j, ["driver", "backing", "file"]) && j["backing"] === null : j["driver"] === "raw" && keysOk(j, ["driver", "offset", "size", "file"]) && Number.isSafeInteger(j["offset"]) && Number.isSafeInteger(j["size"])) &&
    keysOk(f, ["driver", "server", "user", "path", "host-key-check"]) && f!["driver"] === "ssh" &&
    typeof f!["path"] === "string" && (f!["path"] as string).startsWith("/") && !(f!["path"] as string).includes("\0") &&
    keysOk(server, ["host", "port"]) && typeof server!["host"] === "string" && /^\d+$/.test(String(server!["port"])) &&
    keysOk(hkc, ["mode", "type", "hash"]) && hkc!["mode"] === "hash" && hkc!["type"] === "sha256" && /^[0-9a-f]{64}$/.test(String(hkc!["hash"]));
  if (!ok) throw refuse();
  return b;
}

export interface ConvertOptions {
  source: string;
  sourceFormat: Format;
  target: string;
  targetFormat: Format;
  /** Preallocate the target instead of writing it sparse. */
  preallocate?: boolean;
  onProgress?: (percent: number) => void;
  signal?: AbortSignal;
  /** No progress for this long kills the copy (default 5 minutes). */
  stallMs?: number;
  /** Bytes per second, read from the source at most. */
  rateLimit?: number | null;
  env?: Record<string, string>;
}

/** Sparse copy: zeroes and unallocated areas are not written. */
export async function convert(o: ConvertOptions): Promise<void> {
  const src = safePath(o.source);
  const dst = safePath(o.target);
  const parser = new ProgressParser();
  const args = ["convert", "-p", "-f", safeFormat(o.sourceFormat), "-O", safeFormat(o.targetFormat)];
  if (o.preallocate) args.push("-o", "preallocation=falloc");
  else args.push("-S", "4k");
  if (o.rateLimit) args.push("-r", String(Math.floor(o.rateLimit)));
  args.push(src, dst);
  await runQemuImg(args, {
    limits: CONVERT_LIMITS,
    signal: o.signal,
    stallMs: o.stallMs ?? 300_000,
    file: src,
    env: o.env,
    onStdout: (c) => {
      for (const pct of parser.push(c)) o.onProgress?.(pct);
    },
  });
}
