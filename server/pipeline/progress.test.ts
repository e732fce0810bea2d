import { describe, expect, it } from "vitest";
import { ProgressTracker, type ProgressSample } from "./progress";

describe("ProgressTracker", () => {
  it("emits on every whole percent, never backwards, with a rate", () => {
    let now = 0;
    const seen: ProgressSample[] = [];
    const p = new ProgressTracker(1000, (s) => seen.push(s), () => now, 60_000);
    p.start();
    now = 1000;
    p.update(0.5); // below the next whole percent: no event
    p.update(1);
    now = 2000;
    p.update(0.2); // backwards: ignored
    p.update(50);
    p.stop();
    expect(seen.map((s) => s.bytesDone)).toEqual([0, 10, 500]);
    expect(seen[2]!.rate).toBe(250);
  });

  it("emits at least every 2 s while nothing moves, with a rate of 0 once the window passes", async () => {
    const seen: ProgressSample[] = [];
    const p = new ProgressTracker(1000, (s) => seen.push(s), Date.now, 200);
    p.start();
    p.update(10);
    await new Promise((r) => setTimeout(r, 700));
    p.stop();
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(seen.every((s) => s.bytesDone <= 100)).toBe(true);
    expect(seen.at(-1)!.bytesDone).toBe(100);
  });
});
