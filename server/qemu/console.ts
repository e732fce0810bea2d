/**
 * Reading a guest's serial console (and its VGA text screen): pure, so the
 * boot check and the job page (in the browser) share it.
 */

const LOGIN = /^(.*\slogin:)\s*/m;

interface Fatal {
  /** What was seen, in a sysadmin's words. */
  what: string;
  re: RegExp;
  /** An earlier line that says why, quoted with the fatal line. */
  cause?: RegExp;
  /** Which earlier match: the first (the boot disk's own failure) or the last (the line just before). */
  pick?: "first" | "last";
}

/**
 * Console lines that mean the guest will not get to a login prompt. The
 * firmware's own dead ends come first: once the firmware has given up,
 * nothing later on the screen can change that.
 */
const FATAL: Fatal[] = [
  // OVMF ran out of boot options and fell back to its built-in shell.
  { what: "the firmware fell back to the UEFI shell", re: /UEFI Interactive Shell.*|^Shell> ?$/m, cause: /BdsDxe: failed to (?:load|start) Boot\S+.*/g, pick: "first" },
  // OVMF without a shell (Secure Boot firmware) says so instead.
  { what: "the firmware found no bootable option", re: /BdsDxe: No bootable option or device was found\.?.*|No bootable option.*/, cause: /BdsDxe: failed to (?:load|start) Boot\S+.*/g, pick: "first" },
  // SeaBIOS, on the VGA screen.
  { what: "the BIOS found no bootable device", re: /No bootable device.*/, cause: /Boot failed: .*/g, pick: "first" },
  { what: "the BIOS found no boot loader on the disk", re: /Boot failed: not a bootable disk.*/ },
  // grub could not find its modules or its partition: the rescue prompt.
  { what: "grub stopped at its rescue prompt", re: /grub rescue>.*/, cause: /error: .*/g },
  // grub without its configuration: the command line, where it waits forever.
  { what: "grub stopped at its command line (no configuration)", re: /^grub> ?$/m, cause: /error: .*/g },
  // Boot sectors and Windows' boot manager, on the VGA screen.
  { what: "the boot sector found no operating system", re: /Missing operating system\.?|Operating system not found|Error loading operating system|Invalid partition table\.?|An operating system wasn't found\..*/ },
  { what: "the Windows boot manager is missing", re: /BOOTMGR is (?:missing|compressed).*/ },
  { what: "Windows did not start", re: /Windows failed to start\..*/ },
  { what: "the kernel panicked", re: /Kernel panic - not syncing.*/ },
  { what: "the initramfs did not find the root file system", re: /ALERT!\s+\S+ does not exist\.?.*/ },
  { what: "the initramfs did not find the root file system", re: /Gave up waiting for root (?:file system )?device.*/ },
  { what: "the initramfs did not find the root file system", re: /Warning: \/dev\/\S+ does not exist/ },
  { what: "the guest is in emergency mode", re: /You are in emergency mode.*/ },
  { what: "the guest is in emergency mode", re: /Entering emergency mode.*/ },
  { what: "the initramfs could not boot", re: /dracut-initqueue\[\d+\]: Warning: Could not boot.*/ },
  { what: "grub did not find the partition", re: /error: no such partition.*/ },
  { what: "grub did not read the file system", re: /error: unknown filesystem.*/ },
];

/** Strip terminal escapes and carriage returns from console text. */
export function consoleText(raw: string): string {
  return raw
    .replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, "")
    .replace(/\x1b[()][A-Za-z0-9]/g, "")
    .replace(/\r/g, "");
}

export interface ConsoleVerdict {
  state: "booted" | "failed" | "waiting";
  /** The line that proved the boot or the failure. */
  line: string | null;
  /** For a failure: what was seen, in words ("the BIOS found no bootable device"). */
  what?: string;
  /** For a failure: the earlier line that says why, when there is one (grub's `error: ...`, OVMF's failed boot option). */
  cause?: string;
}

/** What the console (or a screen's text) says so far: a login prompt, a fatal error, or nothing yet. */
export function judgeConsole(text: string): ConsoleVerdict {
  for (const f of FATAL) {
    const m = f.re.exec(text);
    if (!m) continue;
    const verdict: ConsoleVerdict = { state: "failed", line: m[0].trim(), what: f.what };
    if (f.cause) {
      const before = text.slice(0, m.index);
      const causes = [...before.matchAll(f.cause)];
      const cause = f.pick === "first" ? causes[0] : causes[causes.length - 1];
      if (cause) verdict.cause = cause[0].trim();
    }
    return verdict;
  }
  const login = LOGIN.exec(text);
  if (login) return { state: "booted", line: login[1]!.trim() };
  return { state: "waiting", line: null };
}

/** One sentence for a failed verdict: what was seen, the line, and its cause. */
export function describeFailure(v: ConsoleVerdict): string {
  const what = v.what ?? "the console shows a fatal error";
  return `${what}: "${v.line}"${v.cause ? ` after "${v.cause}"` : ""}`;
}

/**
 * The last boot option OVMF started (`BdsDxe: starting Boot0000 "debian" from
 * HD(...)`), as `Boot0000 "debian"`, or null when the console shows none.
 */
export function startedBootEntry(text: string): string | null {
  const all = [...text.matchAll(/BdsDxe: starting (Boot[0-9A-Fa-f]{4}) "([^"]*)"/g)];
  const last = all[all.length - 1];
  return last ? `${last[1]} "${last[2]}"` : null;
}
