/**
 * Copy progress users can trust: an event on every whole percent, and at
 * least every 2 s while the copy runs (so a stall is visible as a steady
 * rate of 0), bytes never going back, the rate over the last 5 s.
 */
export interface ProgressSample {
  bytesDone: number;
  rate: number;
}

export class ProgressTracker {
  private done = 0;
  private lastEmittedPercent = -1;
  private lastEmitAt = 0;
  private samples: { at: number; done: number }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly total: number,
    private readonly emit: (p: ProgressSample) => void,
    private readonly now: () => number = () => Date.now(),
    private readonly heartbeatMs = 2000,
  ) {}

  start(): void {
    this.samples = [{ at: this.now(), done: 0 }];
    this.send();
    this.timer = setInterval(() => {
      if (this.now() - this.lastEmitAt >= this.heartbeatMs - 50) this.send();
    }, Math.max(100, this.heartbeatMs / 4));
  }

  /** qemu-img's percentage of the virtual size. */
  update(percent: number): void {
    const done = Math.min(this.total, Math.round((this.total * percent) / 100));
    if (done < this.done) return;
    this.done = done;
    this.samples.push({ at: this.now(), done });
    if (Math.floor(percent) > this.lastEmittedPercent) this.send();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private rate(): number {
    const at = this.now();
    while (this.samples.length > 2 && at - this.samples[1]!.at > 5000) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (at - first.at) / 1000;
    return seconds > 0 ? Math.max(0, (this.done - first.done) / seconds) : 0;
  }

  private send(): void {
    this.lastEmitAt = this.now();
    this.lastEmittedPercent = Math.floor((this.done / (this.total || 1)) * 100);
    this.emit({ bytesDone: this.done, rate: this.rate() });
  }
}
