import { spawn } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors";
import { probeAccel, type Accel } from "./accel";
import { consoleText, judgeConsole } from "./console";
import { diskDevice, nicDevice, rootPortDevices } from "./devices";
import { dhcpClients } from "./pcap";
import { ppmToPng } from "./png";

/**
 * The boot check: boot the converted disks under qemu with the target's
 * devices, on an isolated network, and pass when a login prompt appears on
 * the serial console. Disks are opened with snapshot=on: booting writes to
 * a throw-away layer, never to the output. The console log and a screenshot
 * are kept; the NIC's packets are captured so the check can tell whether
 * the guest's network came up (a DHCP request from the NIC's MAC).
 */

export interface BootDisk {
  path: string;
  format: "raw" | "qcow2";
  bus: "virtio" | "sata" | "scsi";
  /** PCIe bus for a virtio disk (see pciLayout). */
  pciBus: number | null;
}

export interface BootNic {
  model: string;
  mac: string | null;
  pciBus: number;
}

export interface BootCheckOptions {
  disks: BootDisk[];
  nics: BootNic[];
  rootPorts: number;
  firmware: "bios" | "uefi";
  memoryMiB: number;
  vcpus: number;
  /** Where the console log and screenshot go. */
  consoleLog: string;
  screenshot: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface BootCheckResult {
  ok: boolean;
  seconds: number;
  accel: Accel["kind"];
  /** The console line that proved the boot, or the one that proved failure. */
  line: string | null;
  failure: string | null;
  lastLines: string[];
  /** MACs that sent a DHCP request (the guest's network came up). */
  dhcpFrom: string[];
  screenshot: boolean;
}

export function defaultBootTimeoutMs(accel: Accel["kind"]): number {
  return accel === "kvm" ? 180_000 : 600_000;
}

const OVMF_CODE = ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_CODE.fd"];
const OVMF_VARS = ["/usr/share/OVMF/OVMF_VARS_4M.fd", "/usr/share/OVMF/OVMF_VARS.fd"];

/** qemu's option syntax: a comma inside a value is written twice. */
const opt = (value: string) => value.replace(/,/g, ",,");

export function bootCheckArgs(o: BootCheckOptions, accel: Accel["kind"], qmpSocket: string, pcapDir: string, varsCopy: string | null): string[] {
  const args = ["-machine", `q35,accel=${accel}`, "-cpu", accel === "kvm" ? "host" : "max", "-m", String(Math.min(Math.max(o.memoryMiB, 512), 2048)), "-smp", String(Math.min(Math.max(o.vcpus, 1), 2))];
  args.push("-nodefaults", "-display", "none", "-device", "VGA", "-no-reboot", "-serial", `file:${opt(o.consoleLog)}`, "-qmp", `unix:${opt(qmpSocket)},server=on,wait=off`);
  if (o.firmware === "uefi") {
    const code = OVMF_CODE.find((p) => existsSync(p))!;
    args.push("-drive", `if=pflash,format=raw,readonly=on,file=${opt(code)}`, "-drive", `if=pflash,format=raw,file=${opt(varsCopy!)}`);
  }
  for (const port of rootPortDevices(o.rootPorts)) args.push("-device", port);
  let sata = 0;
  o.disks.forEach((d, i) => {
    args.push("-drive", `file=${opt(d.path)},format=${d.format},if=none,id=disk${i},snapshot=on,cache=unsafe`);
    args.push("-device", diskDevice(d, `disk${i}`, d.bus === "virtio" ? 0 : sata++, i === 0));
  });
  o.nics.forEach((n, i) => {
    args.push("-netdev", `user,id=net${i},restrict=on`, "-device", nicDevice(n, `net${i}`, n.pciBus));
    args.push("-object", `filter-dump,id=dump${i},netdev=net${i},file=${opt(join(pcapDir, `nic${i}.pcap`))}`);
  });
  return args;
}

/** Send QMP commands in order; resolves with their replies. */
async function qmp(socket: string, commands: object[], timeoutMs = 20_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    const replies: unknown[] = [];
    let buf = "";
    let sent = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("QMP did not answer"));
    }, timeoutMs);
    const sendNext = () => {
      if (sent === commands.length) {
        clearTimeout(timer);
        s.end();
        resolve(replies);
        return;
      }
      s.write(JSON.stringify(commands[sent++]) + "\n");
    };
    s.on("data", (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ("QMP" in msg) s.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        else if ("return" in msg || "error" in msg) {
          if (sent > 0) replies.push(msg);
          sendNext();
        }
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function readTail(path: string, from: number): { text: string; size: number } {
  if (!existsSync(path)) return { text: "", size: from };
  const size = statSync(path).size;
  if (size <= from) return { text: "", size: from };
  const fd = openSync(path, "r");
  try {
    const len = Math.min(size - from, 4 * 1024 ** 2);
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, size - len);
    return { text: b.toString("utf8"), size };
  } finally {
    closeSync(fd);
  }
}

export async function bootCheck(o: BootCheckOptions): Promise<BootCheckResult> {
  const accel = await probeAccel();
  const timeoutMs = o.timeoutMs ?? defaultBootTimeoutMs(accel.kind);
  const work = mkdtempSync(join(tmpdir(), "ferry-boot-"));
  const qmpSocket = join(work, "qmp.sock");
  let varsCopy: string | null = null;
  if (o.firmware === "uefi") {
    const vars = OVMF_VARS.find((p) => existsSync(p));
    if (!OVMF_CODE.some((p) => existsSync(p)) || !vars) {
      rmSync(work, { recursive: true, force: true });
      throw new FerryError({ code: "boot-check.no-ovmf", message: "the guest boots with UEFI and this host has no OVMF firmware", file: null, hint: "install Debian's ovmf package, or skip the check with --no-boot-check" });
    }
    varsCopy = join(work, "vars.fd");
    copyFileSync(vars, varsCopy);
  }
  const args = bootCheckArgs(o, accel.kind, qmpSocket, work, varsCopy);
  const started = performance.now();
  o.log?.(`booting the converted guest under qemu (${accel.kind === "kvm" ? "KVM" : "TCG, software emulation"}; at most ${Math.round(timeoutMs / 1000)} s): qemu-system-x86_64 ${args.join(" ")}`);
  const hasSetpriv = existsSync("/usr/bin/setpriv");
  const argv = hasSetpriv ? ["setpriv", "--pdeathsig", "KILL", "--", "qemu-system-x86_64", ...args] : ["qemu-system-x86_64", ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let exited: string | null = null;
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.on("exit", (code, sig) => (exited = `qemu exited (${code ?? sig})${stderr.trim() ? `: ${stderr.trim().split("\n").slice(-2).join(" ")}` : ""}`));
  child.on("error", (e) => (exited = `qemu did not start: ${e.message}`));

  let text = "";
  let offset = 0;
  let verdict: ReturnType<typeof judgeConsole> = { state: "waiting", line: null };
  let failure: string | null = null;
  try {
    while (true) {
      if (o.signal?.aborted) throw new FerryError({ code: "pipeline.cancelled", message: "the conversion was cancelled", file: null, hint: null });
      await new Promise((r) => setTimeout(r, 250));
      const chunk = readTail(o.consoleLog, offset);
      offset = chunk.size;
      text = consoleText(text + chunk.text).slice(-200_000);
      verdict = judgeConsole(text);
      if (verdict.state === "booted") break;
      if (verdict.state === "failed") {
        failure = `the guest did not boot: ${verdict.line}`;
        break;
      }
      if (exited) {
        failure = `the guest stopped before a login prompt: ${exited}`;
        break;
      }
      if (performance.now() - started > timeoutMs) {
        failure = `no login prompt on the serial console within ${Math.round(timeoutMs / 1000)} s`;
        break;
      }
    }
    let screenshot = false;
    if (!exited) {
      try {
        const ppm = join(work, "screen.ppm");
        await qmp(qmpSocket, [{ execute: "screendump", arguments: { filename: ppm } }]);
        if (existsSync(ppm)) {
          writeFileSync(o.screenshot, ppmToPng(readFileSync(ppm)));
          screenshot = true;
        }
      } catch (e) {
        o.log?.(`no screenshot: ${(e as Error).message}`);
      }
      await qmp(qmpSocket, [{ execute: "quit" }], 5000).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 300));
    const dhcpFrom = o.nics.flatMap((_, i) => {
      const p = join(work, `nic${i}.pcap`);
      return existsSync(p) ? dhcpClients(readFileSync(p)) : [];
    });
    const lines = text.split("\n").filter((l) => l.trim());
    return {
      ok: failure === null,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      accel: accel.kind,
      line: verdict.line,
      failure,
      lastLines: lines.slice(-15),
      dhcpFrom: [...new Set(dhcpFrom)],
      screenshot,
    };
  } finally {
    child.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  }
}
