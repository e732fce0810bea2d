import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { FerryError } from "../errors";
import { libguestfsEnv, probeAccel, type Accel } from "../qemu/accel";
import { parseSideBySide, sideBySideScript, type SideBySideResult } from "./side-by-side";

/**
 * One libguestfs appliance for one conversion, driven through libguestfs'
 * Python binding by a tiny shim that speaks JSON lines on stdin/stdout.
 * (guestfish --remote would do, but its server exits at the first failed
 * command, and a conversion probes for files that may not exist.) The shim
 * holds the only handle: when Ferry dies, stdin closes and the appliance goes.
 */

const SHIM = String.raw`
import json, sys, guestfs
g = guestfs.GuestFS(python_return_dict=True)
g.set_program("ferry")
out = sys.stdout
def reply(obj):
    out.write(json.dumps(obj) + "\n"); out.flush()
# File contents travel as Latin-1 text, one character per byte, so any bytes
# (not only UTF-8) survive a read, an ASCII edit and a write unchanged.
def arg(a):
    return a["$latin1"].encode("latin-1") if isinstance(a, dict) and "$latin1" in a else a
for line in sys.stdin:
    req = json.loads(line)
    try:
        fn = getattr(g, req["op"])
        res = fn(*[arg(a) for a in req.get("args", [])], **req.get("kw", {}))
        if isinstance(res, bytes): res = res.decode("latin-1")
        reply({"id": req["id"], "ok": True, "result": res})
    except Exception as e:
        reply({"id": req["id"], "ok": False, "error": str(e)})
try:
    g.shutdown()
finally:
    g.close()
`;

const PYTHON = ["/usr/bin/python3", "/usr/local/bin/python3"].find((p) => existsSync(p)) ?? "python3";

export interface ApplianceDrive {
  path: string;
  format: "qcow2" | "raw" | "vmdk";
  readonly?: boolean;
}

export interface LaunchOptions {
  drives: ApplianceDrive[];
  signal?: AbortSignal;
  /** Appliance memory in MiB (update-initramfs and dracut want room). */
  memoryMiB?: number;
  /** Told each libguestfs call, for -v logs. */
  trace?: (line: string) => void;
  /** Added to the environment of libguestfs' qemu: what it needs to read the overlays' backing files (an ssh-agent socket). */
  env?: Record<string, string>;
}

/** Calls that may run long inside the appliance (initramfs, grub, package removal). */
const LONG_CALL_MS = 20 * 60_000;
const CALL_MS = 5 * 60_000;

export class Appliance {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; op: string; timer: NodeJS.Timeout }>();
  private stderr = "";
  private closed = false;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly accel: Accel,
    private readonly trace?: (line: string) => void,
  ) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      let msg: { id: number; ok: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new FerryError({ code: "guestfs.call", message: `libguestfs ${p.op}: ${(msg.error ?? "failed").trim()}`, file: null, hint: null }));
    });
    // Writing to a shim that just died must fail the call, not crash the process.
    child.stdin.on("error", () => undefined);
    child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8000);
    });
    child.on("exit", (code, sig) => {
      this.closed = true;
      this.failPending(`the libguestfs appliance exited (${code ?? sig}): ${this.stderr.trim().split("\n").slice(-3).join(" ")}`);
    });
  }

  /** Start the appliance with the drives attached, on the accelerator that works here. */
  static async launch(options: LaunchOptions): Promise<Appliance> {
    const accel = await probeAccel();
    const hasSetpriv = existsSync("/usr/bin/setpriv");
    const argv = hasSetpriv ? ["setpriv", "--pdeathsig", "KILL", "--", PYTHON, "-c", SHIM] : [PYTHON, "-c", SHIM];
    // Its own process group, so a kill reaches libguestfs' qemu and recovery process too.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], env: { ...libguestfsEnv(accel), ...options.env }, detached: true });
    const a = new Appliance(child, accel, options.trace);
    const onAbort = () => a.kill();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", () => resolve());
        child.once("error", (e) => reject(new FerryError({ code: "guestfs.missing", message: `cannot start libguestfs: ${e.message}`, file: null, hint: "install python3-guestfs and libguestfs-tools (scripts/setup.sh does)" })));
      });
      await a.call("set_memsize", options.memoryMiB ?? 1280);
      await a.call("set_smp", 2);
      for (const d of options.drives) {
        await a.call("add_drive_opts", d.path, { format: d.format, readonly: d.readonly ?? false, discard: d.readonly ? "disable" : "besteffort" });
      }
      await a.call("launch");
      return a;
    } catch (e) {
      a.kill();
      if (e instanceof FerryError && e.code === "guestfs.call" && /launch/.test(e.message)) {
        throw new FerryError({ code: "guestfs.launch", message: `the libguestfs appliance did not start: ${e.message}`, file: null, hint: "run 'LIBGUESTFS_BACKEND=direct libguestfs-test-tool' to see why" });
      }
      throw e;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Call a libguestfs method by its Python name: `call("inspect_os")`. Keyword arguments go in a trailing object. */
  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new FerryError({ code: "guestfs.exited", message: `libguestfs ${op}: the appliance is closed`, file: null, hint: null }));
    const last = args[args.length - 1];
    const kw = last && typeof last === "object" && !Array.isArray(last) && !("$latin1" in last) ? (args.pop() as Record<string, unknown>) : undefined;
    const id = this.nextId++;
    this.trace?.(`libguestfs: ${op} ${args.map((a) => JSON.stringify(a)).join(" ")}${kw ? ` ${JSON.stringify(kw)}` : ""}`.slice(0, 300));
    return new Promise<T>((resolve, reject) => {
      const ms = op === "launch" || op === "sh" || op === "command" || op === "command_lines" || op === "sh_lines" ? LONG_CALL_MS : CALL_MS;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FerryError({ code: "guestfs.timeout", message: `libguestfs ${op} took longer than ${ms / 60_000} minutes`, file: null, hint: "the appliance may be stuck; run with -v" }));
        this.kill();
      }, ms);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, op, timer });
      this.child.stdin.write(JSON.stringify({ id, op, args, kw }) + "\n");
    });
  }

  /** Like call, but a failure is an answer (null), for probes such as "does this file exist". */
  async tryCall<T = unknown>(op: string, ...args: unknown[]): Promise<T | null> {
    try {
      return await this.call<T>(op, ...args);
    } catch (e) {
      if (e instanceof FerryError && e.code === "guestfs.call") return null;
      throw e;
    }
  }

  /** Sync, unmount and stop the appliance: its writes are in the overlays when this returns. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.tryCall("umount_all");
      await this.call("shutdown");
    } finally {
      await new Promise<void>((resolve) => {
        if (this.closed) return resolve();
        this.child.once("exit", () => resolve());
        this.child.stdin.end();
      });
    }
  }

  private failPending(why: string): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new FerryError({ code: "guestfs.exited", message: why, file: null, hint: "run with -v for the appliance's log" }));
    }
    this.pending.clear();
  }

  /**
   * A guest file as text, byte for byte (Latin-1: one character per byte,
   * so a non-UTF-8 fstab survives an edit); null only when it does not
   * exist. A file that exists but cannot be read is an error, not "absent".
   */
  async readText(path: string): Promise<string | null> {
    if (!(await this.call<boolean>("is_file", path, { followsymlinks: true }))) return null;
    return this.call<string>("read_file", path);
  }

  /** Whether any of these paths is a file in the guest (symlinks followed): "is this tool installed". */
  async anyFile(paths: string[]): Promise<boolean> {
    for (const p of paths) if (await this.call<boolean>("is_file", p, { followsymlinks: true })) return true;
    return false;
  }

  /** Independent shell commands in the guest, side by side in one call (see side-by-side.ts): each one's exit code and output. */
  async shAll(commands: string[]): Promise<SideBySideResult[]> {
    const tag = `ferry-${randomBytes(8).toString("hex")}`;
    return parseSideBySide(await this.call<string>("sh", sideBySideScript(commands, tag)), tag, commands.length);
  }

  /** Write text read by readText back, byte for byte. */
  async writeText(path: string, text: string): Promise<void> {
    await this.call("write", path, { $latin1: text });
  }

  /** Stop at once (cancel, error, timeout): the shim dies and takes qemu with it. */
  kill(): void {
    if (this.closed) return;
    this.closed = true;
    this.failPending("the libguestfs appliance was stopped");
    this.child.stdin.end();
    try {
      process.kill(-this.child.pid!, "SIGKILL");
    } catch {
      this.child.kill("SIGKILL");
    }
  }
}
