import { expect, test } from "@playwright/test";

test("pages carry a nonce-based CSP and hardening headers, and still work", async ({ page }) => {
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
  const ok = await request.get(`${baseURL}/api/trpc/shares.list`);
  expect(ok.status()).toBe(200);
});
