import { defineConfig } from "@playwright/test";

/**
 * End-to-end tests drive Debian's Chromium (/usr/bin/chromium); nothing
 * downloads a browser. The server is `npm start`'s: the production build
 * behind server/web/serve.ts, over HTTPS with the self-signed certificate it
 * makes in its data folder (which the browser is told to accept, as an admin
 * does once after checking the fingerprint).
 */
const port = Number(process.env.E2E_PORT ?? 3100);

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/e2e",
  timeout: 120_000,
  retries: 0,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: `https://127.0.0.1:${port}`,
    ignoreHTTPSErrors: true,
    browserName: "chromium",
    headless: true,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    // A data folder of its own: the demo share, a bigger guest, no jobs.
    command: "npx tsx scripts/e2e-share.ts && npx tsx server/web/serve.ts",
    env: { FERRY_DATA_DIR: "test-results/e2e-data", FERRY_CONCURRENCY: "2", FERRY_ADMIN_PASSWORD: "e2e admin password", PORT: String(port), HOST: "127.0.0.1" },
    url: `https://127.0.0.1:${port}/login`,
    ignoreHTTPSErrors: true,
    reuseExistingServer: false,
    timeout: 420_000, // the phony Windows guest is built on a fresh machine: one appliance run
  },
});
