/**
 * `qemu-img convert -p` writes `    (12.34/100%)\r` to stdout. Pure parser:
 * feed it chunks, it returns the percentages it completed, never going back.
 */
export class ProgressParser {
  private buffer = "";
  private last = -1;

  push(chunk: string): number[] {
    this.buffer += chunk;
    const out: number[] = [];
    const re = /\((\d{1,3}(?:\.\d+)?)\/100%\)/g;
    let m: RegExpExecArray | null;
    let consumed = 0;
    while ((m = re.exec(this.buffer))) {
      const pct = Math.min(100, Number(m[1]));
      if (pct > this.last) {
        this.last = pct;
        out.push(pct);
      }
      consumed = re.lastIndex;
    }
    // Keep an unfinished tail (a chunk may split "(12.3" from "4/100%)").
    this.buffer = this.buffer.slice(consumed).slice(-64);
    return out;
  }
}
