/**
 * The demo NAS share `npm start` serves when no share is configured:
 * sample guests made with qemu-img, each showing something the wizard must
 * handle. Made once; remade when the recipe changes (DEMO_VERSION).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { targetFolders } from "../server/output/targets";
import { loadConfig } from "../server/shares";
import { makeGuest } from "../test/fixtures/guest";

const DEMO_VERSION = "2";

export function makeDemoShare(dir: string): void {
  // The recipe's version, beside the share rather than in it.
  const marker = `${dir}.version`;
  if (existsSync(marker) && readFileSync(marker, "utf8").trim() === DEMO_VERSION) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  rmSync(marker, { force: true });
  // Three disks on SCSI, SATA and NVMe.
  makeGuest(join(dir, "production"), "web01", [
    { slot: "scsi0:0", sizeMiB: 512, dataMiB: 48 },
    { slot: "sata0:0", sizeMiB: 256, dataMiB: 16 },
    { slot: "nvme0:0", sizeMiB: 128, dataMiB: 8 },
  ], ['firmware = "efi"', 'cpuid.coresPerSocket = "2"'], { vcpus: 4, memoryMiB: 4096 });
  // Running on a two-level snapshot chain.
  makeGuest(join(dir, "production"), "db01", [{ slot: "scsi0:0", sizeMiB: 256, dataMiB: 32, snapshots: 2 }]);
  // A critical concern (PCI passthrough) and a vTPM: cannot be imported.
  makeGuest(join(dir, "lab"), "gpu-render", [{ slot: "scsi0:0", sizeMiB: 64, dataMiB: 4 }], ['pciPassthru0.present = "TRUE"', 'pciPassthru0.id = "00000:059:00.0"', 'vtpm.present = "TRUE"']);
  // A disk file that is gone.
  makeGuest(join(dir, "lab"), "lost-disk", [{ slot: "scsi0:0", sizeMiB: 64, dataMiB: 1 }], ['scsi0:1.present = "TRUE"', 'scsi0:1.fileName = "lost-disk_data.vmdk"']);
  // A VMX that is not one: a disk descriptor saved under the wrong name.
  mkdirSync(join(dir, "lab", "broken"), { recursive: true });
  writeFileSync(join(dir, "lab", "broken", "broken.vmx"), '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n');
  writeFileSync(marker, DEMO_VERSION + "\n");
}

/**
 * The real Debian 12 guests (scripts/build-guest.sh, cached) under linux/:
 * the ones to convert and boot-check from the wizard. Hard links, so the
 * share costs no space; a copy when the cache is on another filesystem.
 * Skipped with a note when the guests cannot be built here (not root, no mirror).
 */
/** A guest file from the test-guest cache: a hard link where the file system allows, else a copy. */
export function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

export function addDebianGuests(dir: string): void {
  let cache: string;
  try {
    cache = execFileSync("bash", [fileURLToPath(new URL("build-guest.sh", import.meta.url))], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").at(-1)!;
  } catch {
    console.error("demo share: the Debian 12 test guests could not be built here; the share has the small sample guests only");
    return;
  }
  const recipe = readFileSync(join(cache, "RECIPE"), "utf8");
  const marker = join(dir, "linux", ".recipe");
  if (existsSync(marker) && readFileSync(marker, "utf8") === recipe) return;
  rmSync(join(dir, "linux"), { recursive: true, force: true });
  for (const guest of ["debian12", "debian12-split", "debian12-strict"]) {
    const to = join(dir, "linux", guest);
    mkdirSync(to, { recursive: true });
    for (const f of readdirSync(join(cache, guest))) {
      linkOrCopy(join(cache, guest, f), join(to, f));
    }
  }
  writeFileSync(marker, recipe);
}

if (process.argv[1]?.endsWith("demo-share.ts")) {
  const config = loadConfig();
  const demo = config.shares.find((s) => s.name === "demo");
  if (demo) {
    makeDemoShare(demo.path);
    addDebianGuests(demo.path);
    console.error(`demo share ready: ${demo.path}`);
  }
  for (const dir of targetFolders(config.outputs)) mkdirSync(dir, { recursive: true });
}
