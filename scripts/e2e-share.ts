/**
 * The data folder the end-to-end tests serve: the demo share plus a bigger
 * guest to cancel and reload mid-copy. Jobs and outputs start empty each run.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { targetFolders } from "../server/output/targets";
import { loadConfig } from "../server/shares";
import { makeGuest } from "../test/fixtures/guest";
import { addDebianGuests, makeDemoShare } from "./demo-share";

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
console.error(`e2e data ready: ${config.dataDir}`);
