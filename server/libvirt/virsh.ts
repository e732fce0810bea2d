import { execFile } from "node:child_process";
import { FerryError } from "../errors";

/**
 * The only code that runs virsh. Ferry drives libvirt through virsh (an
 * argument array, never a shell): Debian's libvirt-clients ships it with
 * the daemon, it speaks every URI libvirt does, and no maintained npm
 * binding of libvirt builds on Node 20 without a compiler toolchain.
 */

export class VirshError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(stderr.trim() || `virsh ${args.join(" ")} failed (exit ${exitCode})`);
    this.name = "VirshError";
  }
}

export interface VirshOptions {
  signal?: AbortSignal;
  /** Default 60 s: libvirt answers at once, or hangs on a dead remote. */
  timeoutMs?: number;
}

/** virsh's "error: " lines, joined: what libvirt said, without the noise. */
export function virshMessage(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => l.replace(/^error:\s*/, ""));
  return lines.join("; ") || "virsh failed without a message";
}

/** `virsh -c URI ARGS...`; stdout, or a VirshError with libvirt's message. */
export function virsh(uri: string, args: string[], options: VirshOptions = {}): Promise<string> {
  const all = ["-q", "-c", uri, ...args];
  return new Promise((resolve, reject) => {
    execFile(
      "virsh",
      all,
      { encoding: "utf8", timeout: options.timeoutMs ?? 60_000, signal: options.signal, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: "C", LIBVIRT_DEFAULT_URI: uri } },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          reject(new FerryError({ code: "libvirt.no-virsh", message: "virsh is not installed on this host", file: null, hint: "apt-get install libvirt-clients" }));
          return;
        }
        reject(new VirshError(all, stderr || err.message, typeof code === "number" ? code : null));
      },
    );
  });
}

/** Whether a virsh failure means the daemon could not be reached (rather than the request failing). */
export function isConnectFailure(e: VirshError): boolean {
  return /failed to connect to the hypervisor|Failed to connect socket|no connection driver available|Cannot recv data|authentication failed|End of file while reading data/i.test(e.stderr);
}
