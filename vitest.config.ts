import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL(".", import.meta.url)) } },
  test: {
    include: ["server/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["node_modules", "e2e", ".next"],
    testTimeout: 120_000,
    // Two test files at a time on two cores: a TCG guest or appliance keeps
    // about one core busy, and much of a file's time is waiting on one.
    maxWorkers: 2,
    hookTimeout: 300_000,
  },
});
