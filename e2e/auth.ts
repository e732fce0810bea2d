import { expect, type Page } from "@playwright/test";

/** The admin password the e2e server is started with (playwright.config.ts). */
export const E2E_PASSWORD = "e2e admin password";

/** Sign in through the API; the browser context keeps the session cookie. */
export async function signIn(page: Page): Promise<void> {
  const r = await page.request.post("/api/trpc/auth.login", { data: { user: "admin", password: E2E_PASSWORD }, headers: { "content-type": "application/json" } });
  expect(r.status()).toBe(200);
}
