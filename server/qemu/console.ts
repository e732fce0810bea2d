/**
 * Reading a guest's serial console: pure, so the boot check and the job
 * page (in the browser) share it.
 */

const LOGIN = /^(.*\slogin:)\s*/m;
/** Console lines that mean the guest will not get to a login prompt. */
const FATAL: RegExp[] = [
  /Kernel panic - not syncing.*/,
  /ALERT!\s+\S+ does not exist\.?.*/,
  /Gave up waiting for root (file system )?device.*/,
  /Warning: \/dev\/\S+ does not exist/,
  /You are in emergency mode.*/,
  /Entering emergency mode.*/,
  /dracut-initqueue\[\d+\]: Warning: Could not boot.*/,
  /No bootable device.*/,
  /error: no such partition.*/,
  /error: unknown filesystem.*/,
];

/** Strip terminal escapes and carriage returns from console text. */
export function consoleText(raw: string): string {
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\x1b[()][A-Za-z0-9]/g, "").replace(/\r/g, "");
}

/** What the console says so far: a login prompt, a fatal error, or nothing yet. */
export function judgeConsole(text: string): { state: "booted" | "failed" | "waiting"; line: string | null } {
  const fatal = FATAL.map((re) => re.exec(text)).find((m) => m);
  if (fatal) return { state: "failed", line: fatal[0].trim() };
  const login = LOGIN.exec(text);
  if (login) return { state: "booted", line: login[1]!.trim() };
  return { state: "waiting", line: null };
}
