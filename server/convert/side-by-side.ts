/**
 * Independent guest commands in one shell, side by side. The libguestfs
 * daemon runs one call at a time, and a call that backgrounds work cannot
 * leave it running (the daemon unmounts the guest's /dev, /proc and /sys
 * when the call returns). Under emulation an initramfs rebuild keeps one
 * vCPU busy for a minute or more while the other idles: grub-mkconfig beside
 * it costs no time. Pure: the script is text, its output is parsed here;
 * the appliance runs it (Appliance.shAll).
 */

export interface SideBySideResult {
  /** Exit code; -1 when the script did not report one. */
  code: number;
  /** stdout and stderr together. */
  output: string;
}

/** A /bin/sh script: each command in the background with its output and exit code in a temporary folder, then all reported in order after `tag` lines. */
export function sideBySideScript(commands: string[], tag: string): string {
  return [
    'd=$(mktemp -d) || exit 1',
    ...commands.map((c, i) => `{ ( ${c} ) >"$d/${i}" 2>&1 </dev/null; echo "$?" >"$d/${i}.rc"; } &`),
    "wait",
    ...commands.map((_, i) => `printf '\\n%s %s %s\\n' '${tag}' ${i} "$(cat "$d/${i}.rc" 2>/dev/null)"; cat "$d/${i}" 2>/dev/null`),
    'rm -rf "$d"',
  ].join("\n");
}

/** The results of sideBySideScript's output, one per command, in order. */
export function parseSideBySide(text: string, tag: string, n: number): SideBySideResult[] {
  const found = new Map<number, SideBySideResult>();
  for (const part of `\n${text}`.split(`\n${tag} `).slice(1)) {
    const nl = part.indexOf("\n");
    const head = nl < 0 ? part : part.slice(0, nl);
    const m = /^(\d+) (\d*)$/.exec(head);
    if (!m) continue;
    // Each block starts with a newline printed before its tag; the output keeps its own.
    found.set(Number(m[1]), { code: m[2] === "" ? -1 : Number(m[2]), output: nl < 0 ? "" : part.slice(nl + 1) });
  }
  return Array.from({ length: n }, (_, i) => found.get(i) ?? { code: -1, output: "" });
}
