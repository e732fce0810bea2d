/** Every zod-validated API input takes any JSON without throwing: it parses, or it is refused with issues. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { appRouter } from "../../server/api/root";

const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 1000);
const TIMEOUT = Math.max(60_000, RUNS * 5);

type Def = { inputs?: unknown[] };
const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: Def }>)
  .map(([path, p]) => [path, p._def.inputs ?? []] as const)
  .filter(([, inputs]) => inputs.length > 0);

describe("API input properties", () => {
  it("finds the procedures that take input", () => {
    expect(procedures.map(([p]) => p)).toEqual(expect.arrayContaining(["shares.browse", "vm.preview", "jobs.create", "jobs.events", "vmx.read"]));
  });

  it.each(procedures.map(([p, i]) => [p, i]))("%s: any JSON parses or is refused, never a crash", (_, inputs) => {
    const schema = (inputs as z.ZodType[])[0]!;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const r = schema.safeParse(v);
        if (!r.success) expect(r.error.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);
});
