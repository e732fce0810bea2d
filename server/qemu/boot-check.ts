import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors";
import { probeAccel, type Accel } from "./accel";
import { consoleText, describeFailure, judgeConsole, startedBootEntry, type ConsoleVerdict } from "./console";
import { diskDevice, nicDevice, rootPortDevices } from "./devices";
import { ovmfFirmware, type OvmfFirmware } from "./ovmf";
import { macEvidence, type MacEvidence } from "./pcap";
import { imageToPng, ppmToPng } from "./png";
import { freePort, knock, staticNet } from "./static-probe";
import { VGA_TEXT_ADDRESS, VGA_TEXT_BYTES, vgaTextLines } from "./vga-text";
import { parsePpm, thumbnail } from "./image";
import { judgeBlueScreen, judgeNetworkUp } from "./windows-boot";

/**
 * The boot check: boot the converted disks under qemu with the target's
 * devices, on an isolated network, and pass when a login prompt appears on
 * the serial console. Disks are opened with snapshot=on: booting writes to
 * a throw-away layer, never to the output. The console log and a screenshot
 * are kept; each NIC's packets are captured so the check can tell whether
 * the guest's network came up (a DHCP request from the NIC's MAC, the IPv4
 * addresses it announced).
 *
 * A dead end ends the check at once instead of waiting out the limit: a
 * fatal console line, and the firmware's and boot loader's own (the UEFI
 * shell, no bootable option or device, grub's rescue prompt). Under BIOS,
 * SeaBIOS and grub write to the VGA screen, not the serial port: the check
 * reads the VGA text buffer through QMP every few seconds and judges it
 * with the same judgeConsole. Whichever way the check ends, returning or
 * throwing, qemu has exited and the work folder is gone.
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
  /** A static IPv4 address the guest configures on this NIC (`192.168.50.10/24`): the check asks for it (see static-probe.ts). */
  staticAddress?: string | null;
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
  /**
   * UEFI: a per-guest OVMF variables file (see ovmf-vars.ts), copied to the
   * work folder before the boot and never modified in place. Default: a
   * fresh copy of OVMF's template, which holds no boot entry of the guest's.
   */
  uefiVars?: string;
  /** UEFI: boot OVMF's Secure Boot build with Microsoft's keys enrolled (SMM, secure flash). */
  secureBoot?: boolean;
  /** Where the check's work folder (QMP socket, packet dumps, variables copy) is made; default the system's temporary folder. */
  tmpDir?: string;
  /** BIOS: how often the VGA text screen is read, in ms (default 3000). */
  screenEveryMs?: number;
  /**
   * What proves the boot: a login prompt on the serial console (Linux), or,
   * for a guest without one (Windows), its NIC's DHCP request or ARP
   * announcement by MAC, with screenshots taken as it boots and a blue
   * screen ending the check as a failure.
   */
  proof?: "serial-login" | "network";
  /** Network proof: how often the screen is looked at for a blue screen, in ms (default 10000). */
  shotEveryMs?: number;
}

/** A screenshot taken while the guest booted (network proof), small enough for the job page. */
export interface BootScreenshot {
  seconds: number;
  /** A PNG data URL. */
  png: string;
  blue: boolean;
}

export interface BootCheckNic {
  /** The NIC's MAC: the target's, or the one qemu would give it (52:54:00:12:34:56 onward). */
  mac: string;
  model: string;
  /** It sent a DHCP request. */
  dhcp: boolean;
  /** IPv4 addresses it announced (ARP, source addresses of its packets). */
  addresses: string[];
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
  /** Per NIC, in the order of options.nics: what its packet capture shows. */
  nics: BootCheckNic[];
  firmware: { kind: "bios" | "uefi"; secureBoot: boolean; varsFromGuest: boolean };
  /** The UEFI boot entry OVMF started last (`Boot0000 "debian"`), when the console shows one. */
  bootEntry: string | null;
  /** BIOS: the VGA text screen as last read (25 lines), or null when it was not read. */
  screen: string[] | null;
  /** Network proof: screenshots along the boot (the last one is the end's, a blue screen if there was one). */
  screenshots: BootScreenshot[];
}

/** Keep the first and the latest screenshots when there are too many. */
const MAX_SHOTS = 12;

export function defaultBootTimeoutMs(accel: Accel["kind"]): number {
  return accel === "kvm" ? 180_000 : 600_000;
}

/** qemu's option syntax: a comma inside a value is written twice. */
const opt = (value: string) => value.replace(/,/g, ",,");

/**
 * Under TCG: a Haswell without SVM or VMX (x86-64-v3, as RHEL 10 needs),
 * less the four features TCG cannot give it. `max` advertises AMD's SVM,
 * so udev loads kvm_amd in the guest, and that module's set-up under
 * emulation holds a vCPU for a minute or more (soft lockups, /boot's mount
 * waiting behind it): a minute spent on nested virtualisation, which the
 * check does not look at and the conversion does not change. (`max` with
 * svm=off is no answer: with qemu 7.2 systemd-udevd then fails to start.)
 * Without ERMS too: with it the guest kernel clears pages with `rep stosb`,
 * which TCG runs so slowly that each module load's vmalloc held a vCPU for
 * 20-40 s (rcu stalls in clear_page_erms on the RHEL-shaped guest's console,
 * /boot's mount 95 s behind udev); without it the same stretch took 6 s.
 */
export const TCG_CPU = "Haswell-noTSX,pcid=off,x2apic=off,tsc-deadline=off,invpcid=off,erms=off";

/** The MAC qemu gives the i-th NIC without one; the check names it so its packets can be told apart. */
export const defaultMac = (i: number) => `52:54:00:12:34:${(0x56 + i).toString(16).padStart(2, "0")}`;

export function bootCheckArgs(o: BootCheckOptions, accel: Accel["kind"], qmpSocket: string, pcapDir: string, varsCopy: string | null, fw: OvmfFirmware | null = null, probePorts: Array<number | null> = []): string[] {
  const firmware = o.firmware === "uefi" ? (fw ?? ovmfFirmware(o.secureBoot ?? false)) : null;
  const machine = ["q35", ...(firmware?.machineOptions ?? []), `accel=${accel}`].join(",");
  const args = ["-machine", machine, "-cpu", accel === "kvm" ? "host" : TCG_CPU, "-m", String(Math.min(Math.max(o.memoryMiB, 512), 2048)), "-smp", String(Math.min(Math.max(o.vcpus, 1), 2))];
  args.push("-nodefaults", "-display", "none", "-device", "VGA", "-no-reboot", "-serial", `file:${opt(o.consoleLog)}`, "-qmp", `unix:${opt(qmpSocket)},server=on,wait=off`);
  if (firmware) {
    args.push(...firmware.args);
    args.push("-drive", `if=pflash,format=raw,readonly=on,file=${opt(firmware.code)}`, "-drive", `if=pflash,format=raw,file=${opt(varsCopy!)}`);
  }
  for (const port of rootPortDevices(o.rootPorts)) args.push("-device", port);
  let sata = 0;
  o.disks.forEach((d, i) => {
    args.push("-drive", `file=${opt(d.path)},format=${d.format},if=none,id=disk${i},snapshot=on,cache=unsafe`);
    args.push("-device", diskDevice(d, `disk${i}`, d.bus === "virtio" ? 0 : sata++, i === 0));
  });
  o.nics.forEach((n, i) => {
    const probe = n.staticAddress ? staticNet(n.staticAddress) : null;
    const port = probePorts[i];
    const subnet = probe && port ? `,${probe.netdev},hostfwd=tcp:127.0.0.1:${port}-${probe.address}:22` : "";
    // Network proof: no network boot ROM, or the firmware's own DHCP (iPXE) would pass for the guest's.
    args.push("-netdev", `user,id=net${i},restrict=on${subnet}`, "-device", `${nicDevice({ ...n, mac: n.mac ?? defaultMac(i) }, `net${i}`, n.pciBus)}${o.proof === "network" ? ",romfile=" : ""}`);
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

/** Wait for a child to be gone (it was sent SIGKILL): at most `ms`. */
function gone(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The VGA text screen through QMP (pmemsave of 0xB8000), or null when qemu does not answer yet. */
async function readScreen(qmpSocket: string, file: string): Promise<string[] | null> {
  try {
    await qmp(qmpSocket, [{ execute: "pmemsave", arguments: { val: VGA_TEXT_ADDRESS, size: VGA_TEXT_BYTES, filename: file } }], 5000);
    const bytes = readFileSync(file);
    return bytes.length === VGA_TEXT_BYTES ? vgaTextLines(bytes) : null;
  } catch {
    return null;
  }
}

export async function bootCheck(o: BootCheckOptions): Promise<BootCheckResult> {
  const accel = await probeAccel();
  const timeoutMs = o.timeoutMs ?? defaultBootTimeoutMs(accel.kind);
  const secureBoot = o.firmware === "uefi" && (o.secureBoot ?? false);
  // Before the work folder exists: a missing firmware leaves nothing behind.
  const fw = o.firmware === "uefi" ? ovmfFirmware(secureBoot) : null;
  const work = mkdtempSync(join(o.tmpDir ?? tmpdir(), "ferry-boot-"));
  let child: ChildProcess | null = null;
  try {
    const qmpSocket = join(work, "qmp.sock");
    let varsCopy: string | null = null;
    if (fw) {
      varsCopy = join(work, "vars.fd");
      const source = o.uefiVars ?? fw.varsTemplate;
      if (o.uefiVars) {
        if (!existsSync(o.uefiVars)) throw new FerryError({ code: "boot-check.no-vars", message: `the guest's UEFI variables file ${o.uefiVars} does not exist`, file: o.uefiVars, hint: "make it with withBootEntries() from OVMF's variables template" });
        const [got, want] = [statSync(o.uefiVars).size, statSync(fw.varsTemplate).size];
        if (got !== want) throw new FerryError({ code: "boot-check.vars-size", message: `the guest's UEFI variables file ${o.uefiVars} is ${got} bytes; the firmware ${fw.code} needs ${want} (the size of ${fw.varsTemplate})`, file: o.uefiVars, hint: "make the variables file from the template that matches the firmware (OVMF_VARS_4M.fd, or OVMF_VARS_4M.ms.fd for Secure Boot)" });
      }
      copyFileSync(source, varsCopy);
    }
    const probePorts = await Promise.all(o.nics.map((n) => (n.staticAddress && staticNet(n.staticAddress) ? freePort() : Promise.resolve(null))));
    const args = bootCheckArgs(o, accel.kind, qmpSocket, work, varsCopy, fw, probePorts);
    writeFileSync(o.consoleLog, ""); // an earlier run's console must not be judged as this one's
    const started = performance.now();
    o.log?.(`booting the converted guest under qemu (${accel.kind === "kvm" ? "KVM" : "TCG, software emulation"}; at most ${Math.round(timeoutMs / 1000)} s): qemu-system-x86_64 ${args.join(" ")}`);
    const hasSetpriv = existsSync("/usr/bin/setpriv");
    const argv = hasSetpriv ? ["setpriv", "--pdeathsig", "KILL", "--", "qemu-system-x86_64", ...args] : ["qemu-system-x86_64", ...args];
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    let stderr = "";
    let exited: string | null = null;
    proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    proc.on("exit", (code, sig) => (exited = `qemu exited (${code ?? sig})${stderr.trim() ? `: ${stderr.trim().split("\n").slice(-2).join(" ")}` : ""}`));
    proc.on("error", (e) => (exited = `qemu did not start: ${e.message}`));

    let text = "";
    let offset = 0;
    let verdict: ConsoleVerdict = { state: "waiting", line: null };
    let failure: string | null = null;
    let screen: string[] | null = null;
    let fromScreen = false;
    let bootEntry: string | null = null;
    const screenEvery = o.screenEveryMs ?? 3000;
    let nextScreen = performance.now() + screenEvery;
    const network = o.proof === "network";
    const shotEvery = o.shotEveryMs ?? 10_000;
    let nextShot = performance.now() + shotEvery;
    const screenshots: BootScreenshot[] = [];
    let finalTaken = false;
    let nextNet = 0;
    /** What each NIC's capture shows so far, by source MAC (read every 2 s: the files grow). */
    const nicEvidence = () => {
      const all = new Map<string, MacEvidence>();
      if (performance.now() < nextNet) return all;
      nextNet = performance.now() + 2000;
      o.nics.forEach((_, i) => {
        const p = join(work, `nic${i}.pcap`);
        if (existsSync(p)) for (const [m, e] of macEvidence(readFileSync(p))) all.set(m, e);
      });
      return all;
    };
    /** A screendump through QMP: the image, kept as the final screenshot when asked. */
    const shoot = async (final: boolean) => {
      const ppm = join(work, "shot.ppm");
      rmSync(ppm, { force: true });
      await qmp(qmpSocket, [{ execute: "screendump", arguments: { filename: ppm } }], 10_000);
      if (!existsSync(ppm)) return null;
      const bytes = readFileSync(ppm);
      const img = parsePpm(bytes);
      const blue = judgeBlueScreen(img);
      screenshots.push({ seconds: Math.round((performance.now() - started) / 1000), png: `data:image/png;base64,${imageToPng(thumbnail(img, 320)).toString("base64")}`, blue: blue.blue });
      if (screenshots.length > MAX_SHOTS) screenshots.splice(1, 1);
      if (final) {
        writeFileSync(o.screenshot, imageToPng(img));
        finalTaken = true;
      }
      return blue;
    };
    while (true) {
      if (o.signal?.aborted) throw new FerryError({ code: "pipeline.cancelled", message: "the conversion was cancelled", file: null, hint: null });
      await new Promise((r) => setTimeout(r, 250));
      const chunk = readTail(o.consoleLog, offset);
      offset = chunk.size;
      text = consoleText(text + chunk.text).slice(-200_000);
      // Remembered as it goes by: a chatty kernel can push OVMF's lines out of the kept text.
      if (o.firmware === "uefi") bootEntry = startedBootEntry(text) ?? bootEntry;
      if (network) {
        // No console to read: the guest's NICs speak for it, the screen shows a stop error.
        const proof = judgeNetworkUp(nicEvidence(), o.nics.map((n, i) => ({ mac: n.mac ?? defaultMac(i), staticAddress: n.staticAddress })));
        if (proof) {
          verdict = { state: "booted", line: `${proof.mac} ${proof.how}` };
          break;
        }
        if (!exited && performance.now() >= nextShot) {
          nextShot = performance.now() + shotEvery;
          const blue = await shoot(false).catch(() => null);
          if (blue?.blue) {
            await shoot(true).catch(() => undefined);
            verdict = { state: "failed", line: null };
            failure = `the guest stopped with a blue screen (a Windows stop error, ${blue.colour}; the screenshot shows its stop code: INACCESSIBLE_BOOT_DEVICE means Windows found no driver for its boot disk)`;
            break;
          }
        }
        if (exited) {
          failure = `the guest stopped before its network came up: ${exited}`;
          break;
        }
        if (performance.now() - started > timeoutMs) {
          failure = `no DHCP request or address announcement from the guest's NICs (${o.nics.map((n, i) => n.mac ?? defaultMac(i)).join(", ") || "none"}) within ${Math.round(timeoutMs / 1000)} s`;
          break;
        }
        continue;
      }
      verdict = judgeConsole(text);
      if (verdict.state === "booted") break;
      if (verdict.state === "failed") {
        failure = `the guest did not boot: ${describeFailure(verdict)}`;
        break;
      }
      // Under BIOS, SeaBIOS and grub write to the VGA screen only: a dead end there ends the check too.
      if (o.firmware === "bios" && !exited && performance.now() >= nextScreen) {
        nextScreen = performance.now() + screenEvery;
        screen = (await readScreen(qmpSocket, join(work, "vga.bin"))) ?? screen;
        const seen = screen ? judgeConsole(screen.join("\n")) : null;
        if (seen?.state === "failed") {
          // SeaBIOS moves on to its next device within a second: read once more for its last word.
          await new Promise((r) => setTimeout(r, 1000));
          screen = (await readScreen(qmpSocket, join(work, "vga.bin"))) ?? screen;
          const settled = screen ? judgeConsole(screen.join("\n")) : seen;
          verdict = settled.state === "failed" ? settled : seen;
          fromScreen = true;
          failure = `the guest did not boot: ${describeFailure(verdict)} (on the screen)`;
          break;
        }
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
    // Booted: ask each static NIC for its address (qemu ARPs for it), so the capture shows who answers.
    if (!exited && verdict.state === "booted" && probePorts.some((p) => p !== null)) {
      await Promise.all(probePorts.map((p) => (p ? knock(p) : Promise.resolve())));
      await new Promise((r) => setTimeout(r, 500));
    }
    if (!exited && network && !finalTaken) await shoot(true).catch((e: Error) => o.log?.(`no screenshot: ${e.message}`));
    if (!exited && !network) {
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
    }
    if (!exited) await qmp(qmpSocket, [{ execute: "quit" }], 5000).catch(() => undefined);
    await gone(proc, 3000);
    const nics = o.nics.map((n, i): BootCheckNic => {
      const mac = (n.mac ?? defaultMac(i)).toLowerCase();
      const p = join(work, `nic${i}.pcap`);
      const seen = existsSync(p) ? macEvidence(readFileSync(p)).get(mac) : undefined;
      return { mac, model: n.model, dhcp: seen?.dhcp ?? false, addresses: seen?.addresses ?? [] };
    });
    const lines = text.split("\n").filter((l) => l.trim());
    const screenLines = screen?.filter((l) => l.trim()) ?? [];
    return {
      ok: failure === null,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      accel: accel.kind,
      line: verdict.line,
      failure,
      lastLines: fromScreen ? screenLines : lines.slice(-15),
      dhcpFrom: [...new Set(nics.filter((n) => n.dhcp).map((n) => n.mac))],
      screenshot: screenshot || finalTaken,
      nics,
      firmware: { kind: o.firmware, secureBoot, varsFromGuest: o.firmware === "uefi" && o.uefiVars !== undefined },
      bootEntry,
      screen,
      screenshots,
    };
  } finally {
    if (child) {
      child.kill("SIGKILL");
      await gone(child, 5000);
    }
    rmSync(work, { recursive: true, force: true });
  }
}
