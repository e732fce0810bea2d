/** One row of `npm run bench`'s table: Ferry against a baseline measured in the same run. */
export interface Row {
  name: string;
  unit: string;
  ferry: number;
  baseline: number;
  baselineName: string;
  /** An absolute bound the issue sets, in `unit`. */
  target?: number;
  /** A bound on ferry / baseline. */
  targetRatio?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
