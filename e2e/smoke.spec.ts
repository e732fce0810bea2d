import { expect, test } from "@playwright/test";
import { signIn } from "./auth";

test.beforeEach(async ({ page }) => signIn(page));

test("reads the sample VMX through tRPC and shows where a value came from", async ({ page }, info) => {
  await page.goto("/inspect");
  await expect(page.getByRole("heading", { name: "Read a VMware guest" })).toBeVisible();
  await page.getByRole("button", { name: "Load the sample" }).click();
  await page.getByRole("button", { name: "Read", exact: true }).click();

  const guest = page.getByRole("region", { name: "web01" });
  await expect(guest).toBeVisible();
  await expect(guest.getByText("4 vCPUs = 2 sockets × 2 cores")).toBeVisible();
  await expect(guest.getByText("UEFI, Secure Boot")).toBeVisible();
  const disks = guest.getByRole("table", { name: "Disks" });
  await expect(disks.getByRole("row")).toHaveCount(3);
  await expect(disks.getByRole("row").nth(1)).toContainText("scsi0:0");
  await expect(disks.getByRole("row").nth(1)).toContainText("pvscsi");
  // The static MAC is kept (virt-v2v would drop it) and traced to its line.
  await guest.getByRole("button", { name: /00:50:56:3f:00:10/ }).click();
  const lines = page.getByRole("complementary", { name: "VMX lines" });
  await expect(lines).toContainText("Where the ethernet1 MAC comes from");
  await expect(lines).toContainText('33  ethernet1.address = "00:50:56:3F:00:10"');
  await expect(guest.getByText(/independent disk/)).toBeVisible();
  await page.screenshot({ path: info.outputPath("sample-read.png"), fullPage: true });
});

test("refuses a VMDK descriptor with a clear error naming the line", async ({ page }) => {
  await page.goto("/inspect");
  await page.getByLabel("VMX text").fill('\n# Disk DescriptorFile\nversion=1\nCID=fffffffe\n');
  await page.getByRole("button", { name: "Read", exact: true }).click();
  const alert = page.getByRole("alert").filter({ hasText: "VMDK" });
  await expect(alert).toContainText("pasted.vmx:2: this is a VMDK disk descriptor, not a VMX file");
  await expect(alert).toContainText("give the guest's .vmx file");
});

test("opens a .vmx file from disk with a non-UTF-8 charset", async ({ page }) => {
  await page.goto("/inspect");
  const bytes = Buffer.concat([
    Buffer.from('.encoding = "windows-1252"\ndisplayName = "Caf'),
    Buffer.from([0xe9]),
    Buffer.from('"\nmemsize = "2048"\n'),
  ]);
  await page.getByLabel("VMX file").setInputFiles({ name: "cafe.vmx", mimeType: "text/plain", buffer: bytes });
  await expect(page.getByRole("heading", { name: "Café" })).toBeVisible();
  await expect(page.getByText("2048 MiB")).toBeVisible();
});
