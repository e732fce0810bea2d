/** One word for a POSIX shell, whatever it holds: the qemu script and commands run inside guests. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
