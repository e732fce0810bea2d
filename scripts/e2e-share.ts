/**
 * The data folder the end-to-end tests serve: the demo share plus a bigger
 * guest to cancel and reload mid-copy. Jobs and outputs start empty each run.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { targetFolders } from "../server/output/targets";
import { loadConfig } from "../server/shares";
import { makeGuest } from "../test/fixtures/guest";
import { windowsGuests } from "../test/fixtures/windows-guest";
import { addDebianGuests, linkOrCopy, makeDemoShare } from "./demo-share";

const config = loadConfig();
for (const f of ["ferry.db", "ferry.db-wal", "ferry.db-shm", "overlays"]) rmSync(join(config.dataDir, f), { recursive: true, force: true });
for (const dir of targetFolders(config.outputs)) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
const demo = config.shares.find((s) => s.name === "demo")!;
makeDemoShare(demo.path);
addDebianGuests(demo.path);
if (!existsSync(join(demo.path, "archive", "archive01", "archive01.vmx"))) {
  makeGuest(join(demo.path, "archive"), "archive01", [{ slot: "scsi0:0", sizeMiB: 1024, dataMiB: 256 }]);
}
// The phony Windows 10 guest (NTFS, hives made with hivex; it does not boot): linked from the guest cache.
const win = await windowsGuests();
const winDir = join(demo.path, "windows", "win10");
rmSync(winDir, { recursive: true, force: true });
mkdirSync(winDir, { recursive: true });
for (const f of readdirSync(join(win.dir, "win10"))) linkOrCopy(join(win.dir, "win10", f), join(winDir, f));
console.error(`e2e data ready: ${config.dataDir}`);

