import { expect, test } from "@playwright/test";
import { signIn } from "./auth";

test.beforeEach(async ({ page }) => signIn(page));

/** One host (SQLite, the web server's own worker): the Hosts page, an import aimed at that host, the job naming it. */
test("the Hosts page lists this host; an import aimed at it runs there and says so", async ({ page }, info) => {
  await page.goto("/import"); // the first request starts the web server's worker
  await page.goto("/hosts");
  await expect(page.getByRole("heading", { name: "Conversion hosts" })).toBeVisible();
  const table = page.getByRole("table", { name: "Conversion hosts" });
  const row = table.getByRole("row").nth(1);
  await expect(row).toContainText("online", { timeout: 15_000 });
  await expect(row).toContainText(/of 2/); // FERRY_CONCURRENCY=2
  await expect(row).toContainText("0.1.0");
  await expect(page.getByText(/Jobs are kept in SQLite on this host/)).toBeVisible();
  const host = (await row.getByRole("cell").first().locator("span").first().textContent())!.trim();
  expect(host).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
  await page.screenshot({ path: info.outputPath("hosts.png"), fullPage: true });

  await page.goto("/import");
  await page.getByRole("button", { name: /Scan the whole share/ }).click();
  await expect(page.getByRole("status").filter({ hasText: "Scan finished" })).toBeVisible({ timeout: 30_000 });
  await page.getByRole("checkbox", { name: "Select db01" }).check();
  await page.getByRole("button", { name: "Preview guest" }).click();
  await page.getByRole("button", { name: "Next: Target" }).click();
  await page.getByRole("checkbox", { name: /Convert for KVM/ }).uncheck();
  const choose = page.getByLabel("Conversion host");
  await expect(choose).toHaveValue("");
  await expect(choose.locator("option")).toContainText(["any host", host]);
  await choose.selectOption(host);
  await page.getByLabel("Automatic retry").selectOption("1");
  await page.getByRole("button", { name: "Next: Review" }).click();
  await page.getByRole("button", { name: /Start import of 1 guest/ }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByLabel("Job state")).toHaveText("succeeded", { timeout: 60_000 });
  await expect(page.getByLabel("Conversion host")).toHaveText(`on ${host}`);
  const id = page.url().split("/").pop()!;
  const report = await (await page.request.get(`/api/trpc/jobs.report?input=${encodeURIComponent(JSON.stringify({ id }))}`)).json();
  expect(report.result.data.job).toMatchObject({ host, options: { host, autoRetry: 1 } });
  await page.goto("/jobs");
  await expect(page.getByRole("table", { name: "Jobs" }).getByRole("row").filter({ hasText: "db01" }).first()).toContainText(host);
});
