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
  // Served over HTTPS (server/web/serve.ts): the cookie is Secure too.
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", secure: true });
  expect(page.url()).toMatch(/^https:/);
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

test("invented X-Forwarded-For does not escape the sign-in limiter, and the audit log has the real address", async ({ page, playwright, baseURL }) => {
  await signIn(page);
  const add = await page.request.post("/api/trpc/users.add", { data: { name: "target", role: "viewer", password: "target's password" }, headers: { "content-type": "application/json" } });
  expect(add.status()).toBe(200);
  const attacker = await playwright.request.newContext({ baseURL, ignoreHTTPSErrors: true });
  const attempt = (password: string, i: number) => attacker.post("/api/trpc/auth.login", { data: { user: "target", password }, headers: { "content-type": "application/json", "x-forwarded-for": `198.51.100.${i}`, "x-real-ip": `198.51.100.${i}` } });
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await attempt(`guess ${i}`, i)).status());
  expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  const right = await attempt("target's password", 99);
  expect(right.status()).toBe(429);
  expect((await right.json()).error.message).toMatch(/^too many sign-in attempts; try again in \d+ s$/);
  await attacker.dispose();
  await page.goto("/audit");
  const rows = page.getByRole("table", { name: "Audit log" }).getByRole("row").filter({ hasText: "target" });
  await expect(rows.filter({ hasText: "auth.login.throttled" }).first()).toContainText("127.0.0.1");
  await expect(page.getByRole("table", { name: "Audit log" })).not.toContainText("198.51.100.");
});

test("a malformed or foreign cookie means 'sign in', and sign-in works with it present", async ({ page, context, baseURL }) => {
  await context.addCookies([
    { name: "ferry_session", value: "%E0%A4%A", url: `${baseURL}/api/` },
    { name: "theme", value: "%zz%", url: `${baseURL}/` },
    { name: "other_app_session", value: "x".repeat(3000), url: `${baseURL}/` },
  ]);
  const api = await page.request.get("/api/trpc/jobs.list");
  expect(api.status()).toBe(401);
  expect((await api.json()).error.message).toBe("sign in first");
  await page.goto("/jobs");
  await expect(page).toHaveURL(/\/login\?next=%2Fjobs$/);
  await page.getByLabel("Password").fill(E2E_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Jobs" })).toBeVisible();
  await expect(page.getByText(/sign in first|went wrong|cannot be shown/)).toHaveCount(0);
  // The API gets both ferry_session cookies (the malformed one on /api/ first) and takes the live one.
  const after = await page.request.get("/api/trpc/jobs.list");
  expect(after.status()).toBe(200);
});

test("roles: an admin adds accounts on the Accounts page; a viewer sees no admin pages and is refused them", async ({ page, browser, baseURL }) => {
  await signIn(page);
  await page.goto("/users");
  await expect(page.getByRole("heading", { name: "Accounts" })).toBeVisible();
  await page.getByLabel("Name").fill("vera");
  await page.getByLabel("Role").selectOption("viewer");
  await page.getByLabel("Password", { exact: true }).fill("vera's password");
  await page.getByRole("button", { name: "Add account" }).click();
  await expect(page.getByRole("status").filter({ hasText: 'Added viewer "vera".' })).toBeVisible();
  await expect(page.getByRole("table", { name: "Accounts" }).getByRole("row").filter({ hasText: "vera" })).toContainText("viewer");

  const viewer = await browser.newContext({ baseURL, ignoreHTTPSErrors: true });
  const v = await viewer.newPage();
  await v.goto("/login");
  await v.getByLabel("User").fill("vera");
  await v.getByLabel("Password").fill("vera's password");
  await v.getByRole("button", { name: "Sign in" }).click();
  await expect(v).toHaveURL(/\/import$/);
  await expect(v.getByText("vera (viewer)")).toBeVisible();
  await expect(v.getByRole("link", { name: "Accounts" })).toHaveCount(0);
  await expect(v.getByRole("link", { name: "Audit" })).toHaveCount(0);
  await v.goto("/users");
  await expect(v.getByRole("alert").filter({ hasText: 'this needs the admin role; "vera" is a viewer' })).toBeVisible();
  // An operator's action, refused on the server.
  const cancel = await v.request.post("/api/trpc/jobs.cancel", { data: { id: "00000000-0000-4000-8000-000000000000" }, headers: { "content-type": "application/json" } });
  expect(cancel.status()).toBe(403);

  // The admin removes her: her session ends at once.
  page.once("dialog", (d) => void d.accept());
  await page.getByRole("button", { name: "Remove vera" }).click();
  await expect(page.getByRole("status").filter({ hasText: 'Removed "vera"; 1 session ended.' })).toBeVisible();
  expect((await v.request.get("/api/trpc/jobs.list")).status()).toBe(401);
  await viewer.close();
});
