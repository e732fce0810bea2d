import { expect, test } from "@playwright/test";
import { E2E_PASSWORD, signIn } from "./auth";

test("signed out, the wizard sends you to sign in, and back", async ({ page }) => {
  await page.goto("/jobs");
  await expect(page).toHaveURL(/\/login\?next=%2Fjobs$/);
  await page.getByLabel("Password").fill("wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "wrong user name or password" })).toBeVisible();
  await page.getByLabel("Password").fill(E2E_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/jobs$/);
  await expect(page.getByRole("heading", { name: "Jobs" })).toBeVisible();
  const cookie = (await page.context().cookies()).find((c) => c.name === "ferry_session")!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict" });
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/audit");
  await expect(page).toHaveURL(/\/login/);
});

test("pages carry a nonce-based CSP and hardening headers, and still work", async ({ page }) => {
  await signIn(page);
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) errors.push(m.text());
  });
  const response = await page.goto("/import");
  const h = response!.headers();
  expect(h["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'/);
  expect(h["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(h["x-content-type-options"]).toBe("nosniff");
  expect(h["x-frame-options"]).toBe("DENY");
  expect(h["referrer-policy"]).toBe("no-referrer");
  // Hydrated: the scan button reacts.
  await page.getByRole("button", { name: /Scan the whole share/ }).click();
  await expect(page.getByRole("status").filter({ hasText: "Scan finished" })).toBeVisible({ timeout: 30_000 });
  expect(errors).toEqual([]);
  // Two loads, two nonces.
  const again = await page.goto("/jobs");
  expect(again!.headers()["content-security-policy"]).not.toBe(h["content-security-policy"]);
});

test("the API refuses a cross-site form post and a text/plain post", async ({ request, baseURL }) => {
  const form = await request.post(`${baseURL}/api/trpc/jobs.cancel`, { headers: { origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" }, data: "id=x" });
  expect(form.status()).toBe(403);
  const plain = await request.post(`${baseURL}/api/trpc/jobs.cancel`, { headers: { "content-type": "text/plain" }, data: '{"id":"x"}' });
  expect(plain.status()).toBe(403);
  const sse = await request.get(`${baseURL}/api/trpc/shares.list`, { headers: { origin: "https://evil.example" } });
  expect(sse.status()).toBe(403);
  const anonymous = await request.get(`${baseURL}/api/trpc/shares.list`);
  expect(anonymous.status()).toBe(401);
  const sneaky = await request.get(`${baseURL}/api/trpc/shares.list`, { headers: { "x-middleware-subrequest": "proxy:proxy:proxy:proxy:proxy" } });
  expect(sneaky.status()).toBe(401);
});
