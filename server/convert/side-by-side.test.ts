import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSideBySide, sideBySideScript } from "./side-by-side";

/** The script run by this host's /bin/sh, as the appliance runs it in the guest. */
function run(commands: string[], tag = "ferry-0a1b2c") {
  const r = spawnSync("/bin/sh", ["-c", sideBySideScript(commands, tag)], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return parseSideBySide(r.stdout, tag, commands.length);
}

describe("side-by-side guest commands", () => {
  it("runs the commands at the same time and reports each one's output and exit code, in order", () => {
    const started = performance.now();
    const [a, b, c] = run(["sleep 1; echo first; echo oops >&2", "sleep 1; printf 'no newline'; exit 3", "true"]);
    // Two one-second sleeps side by side take about one second, not two.
    expect(performance.now() - started).toBeLessThan(1900);
    expect(a).toEqual({ code: 0, output: "first\noops\n" });
    expect(b).toEqual({ code: 3, output: "no newline" });
    expect(c).toEqual({ code: 0, output: "" });
  });

  it("keeps output that looks like the tag's lines apart from the report", () => {
    const [a] = run(["echo 'ferry-other 1 0'; echo 'x ferry-0a1b2c 1 0'"]);
    expect(a).toEqual({ code: 0, output: "ferry-other 1 0\nx ferry-0a1b2c 1 0\n" });
  });

  it("leaves no temporary folder behind", () => {
    const tmp = mkdtempSync(join(tmpdir(), "ferry-sbs-"));
    try {
      const r = spawnSync("/bin/sh", ["-c", sideBySideScript(["echo x", "exit 1"], "ferry-t")], { encoding: "utf8", env: { ...process.env, TMPDIR: tmp } });
      expect(parseSideBySide(r.stdout, "ferry-t", 2).map((x) => x.code)).toEqual([0, 1]);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("a command that reported nothing reads as failed (-1), not as success", () => {
    expect(parseSideBySide("", "ferry-x", 2)).toEqual([{ code: -1, output: "" }, { code: -1, output: "" }]);
    expect(parseSideBySide("\nferry-x 0 \npartial", "ferry-x", 1)).toEqual([{ code: -1, output: "partial" }]);
  });
});
