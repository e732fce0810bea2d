import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors";
import { defineDomain, domainState, findDomain, networks, poolRefresh, startDomain, undefineDomain } from "../libvirt/host";
import { virshMessage, VirshError } from "../libvirt/virsh";
import type { TargetPlan } from "../plan";
import type { ResultFile } from "../pipeline/events";
import { guestFirmware, openOutput, type CommitReport, type Output } from "./output";

/**
 * -o libvirt: the disks become volumes of a folder-backed storage pool and
 * the guest a defined libvirt domain, from the same XML -o local writes
 * (with the host's domain type and machine). The volumes are staged in a
 * hidden folder of the pool and renamed into place, then the pool is
 * refreshed and the domain defined; until that succeeds nothing is left in
 * the pool or in libvirt, whatever fails.
 */

/** How long a started guest must stay running before Ferry says it runs. */
const SETTLE_MS = 3000;

function failed(what: string, uri: string, e: unknown): FerryError {
  if (e instanceof FerryError) return e;
  const detail = e instanceof VirshError ? virshMessage(e.stderr) : (e as Error).message;
  return new FerryError({ code: "libvirt.failed", message: `${what} on ${uri} failed: ${detail}`, file: null, hint: "nothing was left in the pool or in libvirt; fix what libvirt says and run again" });
}

/** The refusals that need libvirt, before anything is written. */
async function preflight(plan: TargetPlan): Promise<{ replace: string | null }> {
  const host = plan.output.libvirt!;
  const { uri } = host;
  const same = await findDomain(uri, plan.name);
  if (same && !plan.overwrite) {
    throw new FerryError({ code: "libvirt.domain-exists", message: `libvirt at ${uri} already has a domain named "${plan.name}" (${same.state})`, file: null, hint: "choose another name (-on), undefine the old domain, or pass --overwrite to replace it" });
  }
  if (same && same.state !== "shut off") {
    throw new FerryError({ code: "libvirt.domain-active", message: `the domain "${plan.name}" on ${uri} is ${same.state}; Ferry does not replace a guest that runs`, file: null, hint: `shut it down first (virsh -c ${uri} shutdown ${plan.name})` });
  }
  if (plan.uuid) {
    const byUuid = await findDomain(uri, plan.uuid);
    if (byUuid && byUuid.name !== plan.name) {
      throw new FerryError({ code: "libvirt.uuid-exists", message: `libvirt at ${uri} already has this guest's UUID ${plan.uuid}, as the domain "${byUuid.name}"`, file: null, hint: `it was imported before under another name: name it so again (-on ${byUuid.name}) with --overwrite, or undefine "${byUuid.name}"` });
    }
  }
  const wanted = [...new Set(plan.nics.filter((n) => n.network.type === "network").map((n) => n.network.name))];
  if (wanted.length) {
    const nets = await networks(uri);
    const missing = wanted.filter((n) => !nets.all.includes(n));
    if (missing.length) {
      throw new FerryError({ code: "libvirt.no-network", message: `libvirt at ${uri} has no network ${missing.map((n) => `"${n}"`).join(", ")}, which the guest's NICs connect to`, file: null, hint: `map the NICs to one it has (--network ${nets.all[0] ?? "NAME"} or --bridge BRIDGE); networks there: ${nets.all.join(", ") || "none"}` });
    }
    const inactive = wanted.filter((n) => !nets.active.includes(n));
    if (plan.output.start && inactive.length) {
      throw new FerryError({ code: "libvirt.network-inactive", message: `network ${inactive.map((n) => `"${n}"`).join(", ")} on ${uri} is not active, so the guest could not start`, file: null, hint: `virsh -c ${uri} net-start ${inactive[0]}, or import without --start` });
    }
  }
  if (plan.firmware === "uefi") guestFirmware(plan);
  return { replace: same ? same.name : null };
}

export async function openLibvirtOutput(plan: TargetPlan): Promise<Output> {
  const host = plan.output.libvirt;
  if (!host) throw new FerryError({ code: "plan.libvirt", message: "-o libvirt without the target host's facts", file: null, hint: null });
  const { uri, pool } = host;
  let replace: string | null;
  try {
    ({ replace } = await preflight(plan));
  } catch (e) {
    throw failed("checking the domain, its UUID and networks", uri, e);
  }
  const files = openOutput(plan);

  /** Remove committed volumes after a failed define, so the pool is as before. */
  const removeVolumes = async (written: ResultFile[]) => {
    for (const f of written) rmSync(f.path, { force: true });
    await poolRefresh(uri, pool).catch(() => undefined);
  };

  return {
    stagedDisks: files.stagedDisks,
    finalDisks: files.finalDisks,
    get stagedUefiVars() {
      return files.stagedUefiVars;
    },
    writeMetadata: (conversion) => files.writeMetadata(conversion),
    stageFile: (name, kind) => files.stageFile(name, kind),
    async commit(report?: CommitReport) {
      const xml = readFileSync(files.stagedMetadata, "utf8");
      const written = files.commit();
      const tmp = mkdtempSync(join(tmpdir(), "ferry-define-"));
      try {
        await poolRefresh(uri, pool);
        if (replace) {
          await undefineDomain(uri, replace);
          report?.log(`undefined the earlier domain "${replace}" on ${uri} (--overwrite)`);
        }
        const xmlFile = join(tmp, `${plan.name}.xml`);
        writeFileSync(xmlFile, xml, { mode: 0o600 });
        await defineDomain(uri, xmlFile);
        report?.log(`defined the domain "${plan.name}" on ${uri}, its disks in pool "${pool}"`);
      } catch (e) {
        await removeVolumes(written);
        throw failed(`defining the domain "${plan.name}"`, uri, e);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      let started = false;
      if (plan.output.start) {
        try {
          await startDomain(uri, plan.name);
          // A guest that dies at once (bad firmware, missing device) is not "running".
          await new Promise((r) => setTimeout(r, SETTLE_MS));
          started = true;
          report?.log(`started the domain "${plan.name}"`);
        } catch (e) {
          report?.warn("libvirt.start", `the domain "${plan.name}" is defined but did not start: ${e instanceof VirshError ? virshMessage(e.stderr) : (e as Error).message}`);
        }
      }
      const state = await domainState(uri, plan.name).catch(() => "unknown");
      if (started && state !== "running") report?.warn("libvirt.start", `the domain "${plan.name}" was started but is now ${state}`);
      report?.domain({ uri, name: plan.name, uuid: plan.uuid, pool, volumes: written.filter((f) => f.kind === "disk" || f.kind === "nvram").map((f) => f.path), state, started: started && state === "running" });
      return written;
    },
    async abort() {
      files.abort();
      // A refresh by anyone else meanwhile listed the staging folder: list the pool again without it.
      await poolRefresh(uri, pool).catch(() => undefined);
    },
  };
}
