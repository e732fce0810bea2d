/**
 * The VGA text screen (80×25 at 0xB8000): what SeaBIOS and grub show under
 * BIOS, where nothing reaches the serial port until the kernel starts. The
 * boot check reads the 4000 bytes through QMP (pmemsave) and judges the text
 * with judgeConsole. Pure and browser-safe: bytes in, lines out.
 */

export const VGA_TEXT_ADDRESS = 0xb8000;
export const VGA_COLUMNS = 80;
export const VGA_ROWS = 25;
export const VGA_TEXT_BYTES = VGA_COLUMNS * VGA_ROWS * 2;

/** Code page 437's line-drawing and block characters that firmware and grub menus use; other non-ASCII bytes read as spaces. */
const CP437: Record<number, string> = {
  0xb3: "│", 0xba: "║", 0xbf: "┐", 0xc0: "└", 0xc4: "─", 0xcd: "═", 0xd9: "┘", 0xda: "┌",
  0xc9: "╔", 0xbb: "╗", 0xc8: "╚", 0xbc: "╝", 0xdb: "█", 0xb0: "░", 0xb1: "▒", 0xb2: "▓",
  0x18: "↑", 0x19: "↓", 0x10: "►", 0x11: "◄",
};

/**
 * Decode character/attribute pairs into 25 lines of 80 characters (trailing
 * spaces trimmed); the attribute bytes (colours) are dropped. A buffer that
 * is not exactly one screen is refused rather than read askew.
 */
export function vgaTextLines(screen: Uint8Array): string[] {
  if (screen.length !== VGA_TEXT_BYTES) throw new RangeError(`a VGA text screen is ${VGA_TEXT_BYTES} bytes, not ${screen.length}`);
  const lines: string[] = [];
  for (let row = 0; row < VGA_ROWS; row++) {
    let line = "";
    for (let col = 0; col < VGA_COLUMNS; col++) {
      const c = screen[(row * VGA_COLUMNS + col) * 2]!;
      line += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : (CP437[c] ?? " ");
    }
    lines.push(line.trimEnd());
  }
  return lines;
}

/** The screen as text for judgeConsole: its lines joined, blank lines kept so rows stay rows. */
export function vgaText(screen: Uint8Array): string {
  return vgaTextLines(screen).join("\n");
}
