import { expect, test } from "@playwright/test";
import { signIn } from "./auth";

test.beforeEach(async ({ page }) => signIn(page));

/**
 * The phony Windows 10 guest (test/fixtures/windows-guest.ts: NTFS with
 * hives made by hivex; no Windows boots here) through the wizard, with no
 * virtio-win configured: the preview names the Windows version, the Target
 * step says what happens without drivers, the Review step lists the
 * emulated devices with the reason, and the job page shows the guest's
 * Windows facts and every registry change the conversion made.
 */
test("a Windows guest without virtio-win: emulated devices, said before the import, and the registry changes after", async ({ page }, info) => {
  test.setTimeout(600_000);
  await page.goto("/import");
  await page.getByRole("button", { name: /Scan the whole share/ }).click();
  await expect(page.getByRole("status").filter({ hasText: "Scan finished" })).toBeVisible({ timeout: 30_000 });
  await page.getByRole("checkbox", { name: "Select win10" }).check();
  await page.getByRole("button", { name: "Preview guest" }).click();
  await expect(page.getByText("(Windows 10, 64-bit)")).toBeVisible();
  await page.screenshot({ path: info.outputPath("1-preview.png"), fullPage: true });

  await page.getByRole("button", { name: "Next: Target" }).click();
  await expect(page.getByLabel("virtio-win")).toContainText("None configured");
  await expect(page.getByRole("checkbox", { name: /Convert for KVM/ })).toBeChecked();
  // Nothing boots a phony Windows: the conversion is checked by what it wrote.
  await page.getByRole("checkbox", { name: /Boot the result/ }).uncheck();

  await page.getByRole("button", { name: "Next: Review" }).click();
  const changes = page.getByRole("table", { name: "Changes" });
  await expect(changes.getByRole("row").filter({ hasText: "emulated SATA and e1000e" })).toContainText("no virtio-win drivers were given");
  await expect(changes.getByRole("row").filter({ hasText: "VMware Tools" })).toContainText("removed at first boot");
  await expect(page.getByText("<model type='e1000e'/>")).toBeVisible();
  await page.screenshot({ path: info.outputPath("2-review.png"), fullPage: true });

  await page.getByRole("button", { name: "Start import of 1 guest" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByLabel("Job state")).toHaveText("succeeded", { timeout: 480_000 });
  const guest = page.getByRole("definition").filter({ hasText: "build 19045" });
  await expect(guest).toContainText("Windows 10 Pro");
  const conversion = page.getByLabel("Conversion", { exact: true });
  await expect(conversion).toContainText("No virtio-win drivers");
  const registry = page.getByRole("table", { name: "Registry changes" });
  await expect(registry.getByRole("row").filter({ hasText: "storahci" }).first()).toContainText("REG_DWORD 0");
  await page.screenshot({ path: info.outputPath("3-done.png"), fullPage: true });
});
