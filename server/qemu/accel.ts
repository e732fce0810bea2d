import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";

/**
 * Which accelerator qemu can use here, found by trying: /dev/kvm can exist
 * and still fail (on some hosts qemu aborts setting an MSR the moment a
 * vCPU is created), so its presence proves nothing. A paused machine (-S)
 * with `-cpu host` creates the vCPUs without running them: it aborts within
 * milliseconds when KVM is broken and stays up when KVM works.
 */

export type Accel = { kind: "kvm"; reason: string } | { kind: "tcg"; reason: string };

let probed: Promise<Accel> | null = null;

export function probeAccel(): Promise<Accel> {
  probed ??= probe();
  return probed;
}

function probe(): Promise<Accel> {
  if (process.env.FERRY_ACCEL === "tcg") return Promise.resolve({ kind: "tcg", reason: "FERRY_ACCEL=tcg" });
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return Promise.resolve({ kind: "tcg", reason: "/dev/kvm is missing or not accessible" });
  }
  return new Promise((resolve) => {
    const child = spawn("qemu-system-x86_64", ["-accel", "kvm", "-cpu", "host", "-machine", "q35", "-m", "64", "-S", "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ kind: "kvm", reason: "KVM works" });
    }, 3000); // a broken KVM aborts in milliseconds; 3 s leaves room for a loaded host
    const fail = (why: string) => {
      clearTimeout(timer);
      const line = stderr.trim().split("\n").find((l) => /error/i.test(l)) ?? why;
      resolve({ kind: "tcg", reason: `KVM fails here (${line.trim().slice(0, 160)}); using software emulation (TCG)` });
    };
    child.on("error", (e) => fail(e.message));
    child.on("exit", (code, sig) => {
      if (sig === "SIGKILL") return;
      fail(`qemu exited with ${code ?? sig}`);
    });
  });
}

/** The environment libguestfs needs for the accelerator that works. */
export function libguestfsEnv(accel: Accel): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LIBGUESTFS_BACKEND: "direct", LC_ALL: "C" };
  if (accel.kind === "tcg") env.LIBGUESTFS_BACKEND_SETTINGS = "force_tcg";
  else delete env.LIBGUESTFS_BACKEND_SETTINGS;
  return env;
}
