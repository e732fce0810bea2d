import { expect, test, type Page } from "@playwright/test";
import { signIn } from "./auth";

test.beforeEach(async ({ page }) => signIn(page));

/** The whole import on the demo share, in Chromium, with a screenshot of each step. */

async function scanDemo(page: Page) {
  await page.goto("/import");
  await expect(page.getByRole("heading", { name: "Import VMware guests" })).toBeVisible();
  await page.getByRole("button", { name: /Scan the whole share/ }).click();
  await expect(page.getByRole("status").filter({ hasText: "Scan finished" })).toBeVisible({ timeout: 30_000 });
}

async function startImport(page: Page, guest: string, rateMiBps?: number) {
  await scanDemo(page);
  await page.getByRole("checkbox", { name: `Select ${guest}` }).check();
  await page.getByRole("button", { name: "Preview guest" }).click();
  await page.getByRole("button", { name: "Next: Target" }).click();
  // The demo's fake guests hold no operating system: copy them as they are.
  await page.getByRole("checkbox", { name: /Convert for KVM/ }).uncheck();
  if (rateMiBps) await page.getByLabel("Bandwidth limit").fill(String(rateMiBps));
  await page.getByRole("button", { name: "Next: Review" }).click();
  await page.getByRole("button", { name: /Start import of 1 guest/ }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
}

test("imports a guest from the demo share: scan, preview, target, review, run", async ({ page }, info) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await scanDemo(page);
  const found = page.getByRole("table", { name: "Guests found" });
  for (const name of ["web01", "db01", "gpu-render", "lost-disk", "archive01"]) await expect(found).toContainText(name);
  await expect(found.getByRole("row").filter({ hasText: "gpu-render" })).toContainText("blocked");
  await expect(found.getByRole("row").filter({ hasText: "broken" })).toContainText("unreadable");
  await page.getByRole("checkbox", { name: "Select web01" }).check();
  await page.screenshot({ path: info.outputPath("1-source.png"), fullPage: true });

  await page.getByRole("button", { name: "Preview guest" }).click();
  const disks = page.getByRole("table", { name: "Disks of web01" });
  await expect(disks.getByRole("row")).toHaveCount(4);
  await expect(disks).toContainText("scsi0:0");
  await expect(disks).toContainText("nvme0:0");
  await expect(disks).toContainText("sata0:0");
  await expect(disks).toContainText("512 MiB");
  await expect(page.getByText("2 sockets × 2 cores = 4 vCPUs")).toBeVisible();
  const nics = page.getByRole("table", { name: "Network adapters of web01" });
  await expect(nics).toContainText("00:0c:29:ab:cd:ef");
  await nics.getByRole("button", { name: "00:0c:29:ab:cd:ef" }).click();
  await expect(page.getByRole("complementary", { name: "VMX lines" })).toContainText('ethernet0.generatedAddress = "00:0c:29:ab:cd:ef"');
  await page.screenshot({ path: info.outputPath("2-preview.png"), fullPage: true });
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();
  await page.emulateMedia({ colorScheme: "dark" });
  await expect.poll(background).not.toBe(light);
  await page.screenshot({ path: info.outputPath("2-preview-dark.png"), fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });

  await page.getByRole("button", { name: "Next: Target" }).click();
  await expect(page.getByLabel("Output")).toHaveValue("local");
  await expect(page.getByRole("checkbox", { name: /Convert for KVM/ })).toBeChecked();
  await expect(page.getByRole("checkbox", { name: /Boot the result/ })).toBeChecked();
  // web01's disks are fake (no operating system): copy-only, which also turns the boot check off.
  await page.getByRole("checkbox", { name: /Convert for KVM/ }).uncheck();
  await expect(page.getByRole("checkbox", { name: /Boot the result/ })).not.toBeChecked();
  await page.getByLabel("Disk format").selectOption("qcow2");
  await page.screenshot({ path: info.outputPath("3-target.png"), fullPage: true });

  await page.getByRole("button", { name: "Next: Review" }).click();
  const changes = page.getByRole("table", { name: "Changes" });
  await expect(changes).toContainText("scsi0:0 bus");
  await expect(changes).toContainText("sata as sda");
  await expect(page.getByText("<domain type='kvm'>")).toBeVisible();
  await expect(page.getByText("<driver name='qemu' type='qcow2'/>").first()).toBeVisible();
  await page.screenshot({ path: info.outputPath("4-review.png"), fullPage: true });

  await page.getByRole("button", { name: "Start import of 1 guest" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByLabel("Job state")).toHaveText("succeeded", { timeout: 60_000 });
  const outputs = page.getByRole("list", { name: "Output files" });
  await expect(outputs).toContainText("web01-sda");
  await expect(outputs).toContainText("web01-sdc");
  await expect(outputs).toContainText("web01.xml");
  await expect(page.getByRole("list", { name: "Stages" })).toContainText("Finishing off");
  await page.screenshot({ path: info.outputPath("5-done.png"), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download report" }).click()]);
  const report = JSON.parse(await (await import("node:fs/promises")).readFile((await download.path())!, "utf8"));
  expect(report.job).toMatchObject({ state: "succeeded", relPath: "production/web01/web01.vmx" });
  expect(report.events.at(-1).event.type).toBe("result");

  await page.setViewportSize({ width: 420, height: 900 });
  await page.screenshot({ path: info.outputPath("6-done-narrow.png"), fullPage: true });
  await page.goto("/jobs");
  await expect(page.getByRole("table", { name: "Jobs" })).toContainText("web01");
});

test("a guest with a critical concern cannot be imported, and the wizard says why", async ({ page }, info) => {
  await scanDemo(page);
  await page.getByRole("checkbox", { name: "Select gpu-render" }).check();
  await page.getByRole("button", { name: "Preview guest" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "gpu-render cannot be imported" });
  await expect(alert).toContainText("PCI device is passed through");
  await expect(page.getByRole("button", { name: "Next: Target" })).toBeDisabled();
  await expect(page.getByText("virtual TPM")).toBeVisible();
  await page.screenshot({ path: info.outputPath("blocked.png"), fullPage: true });
});

test("cancels a running job: the job ends cancelled with nothing written", async ({ page }) => {
  await startImport(page, "archive01", 8);
  const bar = page.getByRole("progressbar", { name: "Disk 1 copy" });
  await expect(bar).toBeVisible({ timeout: 30_000 });
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByLabel("Job state")).toHaveText("cancelled", { timeout: 30_000 });
  await expect(page.getByText("The job was cancelled")).toBeVisible();
  await expect(page.getByRole("list", { name: "Output files" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Retry" })).toBeVisible();
});

test("a reload mid-conversion resumes the progress view", async ({ page }, info) => {
  await startImport(page, "archive01", 32);
  const bar = page.getByRole("progressbar", { name: "Disk 1 copy" });
  await expect.poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 30_000 }).toBeGreaterThan(5);
  const before = Number(await bar.getAttribute("aria-valuenow"));
  const url = page.url();
  await page.reload();
  await expect(page).toHaveURL(url);
  await expect.poll(async () => Number(await page.getByRole("progressbar", { name: "Disk 1 copy" }).getAttribute("aria-valuenow")), { timeout: 30_000 }).toBeGreaterThanOrEqual(before);
  await expect(page.getByRole("list", { name: "Stages" })).toContainText("Copying disk 1/1");
  await page.screenshot({ path: info.outputPath("reloaded.png"), fullPage: true });
  await expect(page.getByLabel("Job state")).toHaveText("succeeded", { timeout: 60_000 });
});

test("converts the real Debian 12 guest: virtio in the review, the conversion and a passed boot check on the job page", async ({ page }, info) => {
  test.setTimeout(15 * 60_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  await scanDemo(page);
  await page.getByRole("checkbox", { name: "Select debian12", exact: true }).check();
  await page.getByRole("button", { name: "Preview guest" }).click();
  await expect(page.getByRole("table", { name: "Disks of debian12" })).toContainText("monolithicSparse");
  await page.getByRole("button", { name: "Next: Target" }).click();
  await expect(page.getByRole("checkbox", { name: /Convert for KVM/ })).toBeChecked();
  await expect(page.getByRole("checkbox", { name: /Boot the result/ })).toBeChecked();
  await page.getByRole("button", { name: "Next: Review" }).click();
  const changes = page.getByRole("table", { name: "Changes" });
  await expect(changes).toContainText("virtio as vda");
  await expect(changes).toContainText("/dev/sda");
  await expect(changes).toContainText("ens192, pinned to 00:0c:29:5e:7a:01");
  await expect(page.getByText("<target dev='vda' bus='virtio'/>")).toBeVisible();
  await page.screenshot({ path: info.outputPath("debian12-review.png"), fullPage: true });
  await page.getByRole("button", { name: "Start import of 1 guest" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("list", { name: "Conversion" })).toContainText("Removed open-vm-tools", { timeout: 10 * 60_000 });
  await expect(page.getByLabel("Guest inspection")).toContainText("Debian 12");
  await expect(page.getByLabel("Job state")).toHaveText("succeeded", { timeout: 12 * 60_000 });
  await expect(page.getByLabel("Boot check result")).toContainText("booted");
  await expect(page.getByLabel("Boot check result")).toContainText("DHCP from 00:0c:29:5e:7a:01");
  await expect(page.getByLabel("Serial console")).toContainText("debian12 login:");
  await expect(page.getByRole("img", { name: /Screen of the converted guest/ })).toBeVisible();
  const outputs = page.getByRole("list", { name: "Output files" });
  await expect(outputs).toContainText("debian12-vda");
  await expect(outputs).toContainText("debian12-console.log");
  await page.screenshot({ path: info.outputPath("debian12-done.png"), fullPage: true });
});
