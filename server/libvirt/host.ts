import { accessSync, constants, statSync } from "node:fs";
import { FerryError } from "../errors";
import type { LibvirtTarget } from "../plan";
import { hostChoice, parseCapabilities } from "./capabilities";
import { chooseFirmware, readFirmwareDescriptors } from "./firmware";
import { FOLDER_POOL_TYPES, parsePoolInfo, parsePoolXml } from "./pool";
import { isConnectFailure, virsh, virshMessage, VirshError, type VirshOptions } from "./virsh";

/** One libvirt host, driven through virsh: what it offers, its pools and domains. */

export const DEFAULT_URI = "qemu:///system";

function unreachable(uri: string, e: VirshError): FerryError {
  return new FerryError({
    code: "libvirt.unreachable",
    message: `cannot reach libvirt at ${uri}: ${virshMessage(e.stderr)}`,
    file: null,
    hint: "is the libvirt daemon running there (libvirtd or virtqemud)? check the URI (-oc); qemu:///system needs root or the libvirt group",
  });
}

/** virsh, with a connection failure turned into the one clear refusal. */
export async function call(uri: string, args: string[], options?: VirshOptions): Promise<string> {
  try {
    return await virsh(uri, args, options);
  } catch (e) {
    if (e instanceof VirshError && isConnectFailure(e)) throw unreachable(uri, e);
    throw e;
  }
}

/**
 * Everything -o libvirt needs to know before planning: that the daemon
 * answers, what it offers (domain type, q35 version, UEFI firmware) and the
 * pool's folder, which must be a folder on this host Ferry can write.
 */
export async function probeLibvirt(uri: string, pool: string, options?: VirshOptions): Promise<LibvirtTarget> {
  const caps = parseCapabilities(await call(uri, ["capabilities"], options));
  const { domainType, machine } = hostChoice(caps, uri);
  let xml: string;
  try {
    xml = await call(uri, ["pool-dumpxml", "--", pool], options);
  } catch (e) {
    if (!(e instanceof VirshError)) throw e;
    const names = (await call(uri, ["pool-list", "--all", "--name"], options).catch(() => "")).split("\n").map((s) => s.trim()).filter(Boolean);
    throw new FerryError({ code: "libvirt.no-pool", message: `libvirt at ${uri} has no storage pool "${pool}"`, file: null, hint: names.length ? `pools there: ${names.join(", ")}; choose one with -os` : "define one, e.g. virsh pool-define-as NAME dir --target /var/lib/libvirt/images && virsh pool-start NAME" });
  }
  const facts = parsePoolXml(xml);
  if (!FOLDER_POOL_TYPES.includes(facts.type) || !facts.path) {
    throw new FerryError({ code: "libvirt.pool-type", message: `storage pool "${pool}" is of type ${facts.type || "unknown"}; Ferry writes volumes into folder-backed pools (${FOLDER_POOL_TYPES.join(", ")})`, file: null, hint: "choose a directory pool with -os" });
  }
  const info = parsePoolInfo(await call(uri, ["pool-info", "--bytes", "--", pool], options));
  if (info.state !== "running") {
    throw new FerryError({ code: "libvirt.pool-inactive", message: `storage pool "${pool}" is ${info.state}, not running`, file: facts.path, hint: `virsh -c ${uri} pool-start ${pool}` });
  }
  try {
    if (!statSync(facts.path).isDirectory()) throw new Error("not a folder");
    accessSync(facts.path, constants.W_OK);
  } catch (e) {
    throw new FerryError({ code: "libvirt.pool-folder", message: `storage pool "${pool}" keeps its volumes in ${facts.path}, which Ferry cannot write on this host (${(e as Error).message})`, file: facts.path, hint: "run Ferry on the libvirt host (or where the pool's folder is mounted at the same path), as a user who may write there" });
  }
  const descriptors = readFirmwareDescriptors();
  return { uri, pool, poolPath: facts.path, domainType, machine, firmware: { plain: chooseFirmware(descriptors, machine, false), secure: chooseFirmware(descriptors, machine, true) } };
}

/** A pool's folder (null for pools that are not folder-backed). */
export async function poolFolder(uri: string, pool: string, options?: VirshOptions): Promise<string | null> {
  return parsePoolXml(await call(uri, ["pool-dumpxml", "--", pool], options)).path;
}

/** Bytes free in a pool, as libvirt reports them (null when it cannot say); libvirt counts blocks reserved for root too. */
export async function poolFreeBytes(uri: string, pool: string, options?: VirshOptions): Promise<number | null> {
  return parsePoolInfo(await call(uri, ["pool-info", "--bytes", "--", pool], options)).availableBytes;
}

export async function poolRefresh(uri: string, pool: string): Promise<void> {
  await call(uri, ["pool-refresh", "--", pool]);
}

/** The domain of this name or UUID: its name and state; null when none is defined. */
export async function findDomain(uri: string, key: string): Promise<{ name: string; state: string } | null> {
  let state: string;
  try {
    state = await domainState(uri, key);
  } catch (e) {
    if (e instanceof VirshError) return null;
    throw e;
  }
  // domname takes an id or a UUID; a name is its own answer.
  const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key);
  return { name: isUuid ? (await call(uri, ["domname", "--", key])).trim() : key, state };
}

/** `virsh domstate`: running, shut off, paused... */
export async function domainState(uri: string, name: string, options?: VirshOptions): Promise<string> {
  return (await call(uri, ["domstate", "--", name], options)).trim();
}

/** Network names defined on the host, and which are active. */
export async function networks(uri: string): Promise<{ all: string[]; active: string[] }> {
  const list = async (args: string[]) => (await call(uri, ["net-list", ...args, "--name"])).split("\n").map((s) => s.trim()).filter(Boolean);
  return { all: await list(["--all"]), active: await list([]) };
}

export async function defineDomain(uri: string, xmlFile: string): Promise<void> {
  await call(uri, ["define", "--", xmlFile]);
}

/** Undefine a domain Ferry defined or replaces (with its NVRAM kept: it is one of Ferry's volumes). */
export async function undefineDomain(uri: string, name: string, options: { destroy?: boolean } = {}): Promise<void> {
  if (options.destroy) await call(uri, ["destroy", "--", name]).catch(() => undefined);
  await call(uri, ["undefine", "--keep-nvram", "--", name]);
}

export async function startDomain(uri: string, name: string): Promise<void> {
  await call(uri, ["start", "--", name]);
}
