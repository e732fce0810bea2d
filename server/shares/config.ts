import { existsSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { FerryError } from "../errors";
import { TrustedProxy } from "../auth/client-address";

/**
 * The admin's configuration: NAS shares (any mounted folder), output
 * folders, limits. From a JSON file (FERRY_CONFIG, else DATA_DIR/ferry.json)
 * and the environment; validated by zod, with errors naming the field.
 */

const absolute = z.string().refine((p) => isAbsolute(p), "must be an absolute path");

/** An SSH server holding the share's files (an ESXi host): read over SFTP and qemu's ssh driver. */
export const SshShare = z.object({
  host: z.string().regex(/^[A-Za-z0-9.:_-]+$/, "a host name or address"),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[A-Za-z0-9._][A-Za-z0-9._-]*$/, "a user name").default("root"),
  /** Private key to log in with; without it, the keys in ssh-agent (SSH_AUTH_SOCK). */
  identityFile: absolute.nullable().default(null),
  /** Host keys to trust; the wizard adds a key here when an admin accepts it. */
  knownHosts: absolute,
});
export type SshShare = z.infer<typeof SshShare>;

export const Share = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/, "letters, digits, space, '.', '_' and '-'"),
    /** `local`: a folder on this host (a mounted NAS); `ssh`: a folder on an SSH server. */
    kind: z.enum(["local", "ssh"]).optional(),
    /** The share's root: a local folder, or a folder on the SSH server (`/vmfs/volumes/datastore1`). */
    path: absolute,
    readOnly: z.boolean().default(true),
    /** ESXi datastore paths in VMX files, mapped onto this host: `/vmfs/volumes/ds1` → `/mnt/ds1`. */
    datastores: z.array(z.object({ prefix: z.string().startsWith("/"), path: absolute })).default([]),
    ssh: SshShare.optional(),
  })
  .refine((s) => (s.kind === "ssh") === (s.ssh !== undefined), { message: "a share of kind ssh needs an ssh block (host, port, user, identityFile, knownHosts), and only it", path: ["ssh"] })
  .refine((s) => s.kind !== "ssh" || s.datastores.length === 0, { message: "datastores map ESXi paths to local folders; an ssh share reads them on the server", path: ["datastores"] });
export type Share = z.infer<typeof Share>;

const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/);

/** A folder the guests are written to (-o local|qemu|json). */
export const FolderTarget = z.object({ name: targetName, kind: z.literal("folder").optional(), path: absolute });

/** A libvirt storage pool the guests' disks go into, the guests defined in that libvirt (-o libvirt). */
export const LibvirtOutputTarget = z
  .object({
    name: targetName,
    kind: z.literal("libvirt"),
    uri: z.string().regex(/^[a-z0-9+]+:\/\/[^\s]*$/, "a libvirt URI such as qemu:///system").default("qemu:///system"),
    pool: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/, "a storage pool's name"),
  })
  .strict();

/** An output target; without a kind it is a folder, as before libvirt targets existed. */
export const OutputTarget = z.discriminatedUnion("kind", [FolderTarget, LibvirtOutputTarget]);
export type OutputTarget = z.infer<typeof OutputTarget>;

export const FerryConfig = z.object({
  dataDir: absolute,
  shares: z.array(Share),
  outputs: z.array(OutputTarget).min(1),
  /** Jobs running at once, across all shares (default: one per core). */
  concurrency: z.number().int().min(1).max(64),
  /** Jobs reading from one share at once. */
  perShareLimit: z.number().int().min(1).max(64),
  /** Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (none by default). */
  trustedProxies: z.array(TrustedProxy).max(256),
  /** The HTTPS certificate and key (PEM files); null: a self-signed one kept in the data folder. */
  tls: z.object({ cert: absolute, key: absolute }).nullable(),
  /** Plain HTTP instead of HTTPS: only behind a TLS proxy. */
  plainHttp: z.boolean(),
  /** PostgreSQL shared by several conversion hosts (postgresql://...); null: SQLite in the data folder, one host. */
  databaseUrl: z.string().nullable(),
  /** Jobs running at once across every host; null: only each host's concurrency bounds them. */
  globalLimit: z.number().int().min(1).max(10_000).nullable(),
  /** How long a job's claim holds without its worker's heartbeat (the worker renews it every quarter of that). */
  leaseSeconds: z.number().int().min(1).max(3600),
  /** Where this host's worker keeps overlays (host-local scratch space). */
  overlayDir: absolute,
  /** virtio-win's drivers for Windows guests (an unpacked tree, as Fedora/RHEL's virtio-win package installs in /usr/share/virtio-win); null: Windows guests get SATA and e1000e. */
  virtioWin: absolute.nullable().optional(),
});
export type FerryConfig = z.infer<typeof FerryConfig>;

const FileConfig = z.object({
  dataDir: z.string().optional(),
  shares: z.array(Share).optional(),
  outputs: z.array(OutputTarget).optional(),
  concurrency: z.number().int().optional(),
  perShareLimit: z.number().int().optional(),
  trustedProxies: z.array(TrustedProxy).optional(),
  tls: z.object({ cert: z.string(), key: z.string() }).strict().optional(),
  plainHttp: z.boolean().optional(),
  databaseUrl: z.string().optional(),
  globalLimit: z.number().int().optional(),
  leaseSeconds: z.number().int().optional(),
  overlayDir: z.string().optional(),
  virtioWin: z.string().optional(),
}).strict();

function invalid(file: string, issues: z.core.$ZodIssue[]): FerryError {
  const i = issues[0]!;
  return new FerryError({ code: "config.invalid", message: `${i.path.join(".") || "(top)"}: ${i.message}`, file, hint: "fix the configuration file; see the README's 'Configuration'" });
}

function intFromEnv(env: Record<string, string | undefined>, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new FerryError({ code: "config.invalid", message: `${name}=${v} is not a whole number`, file: null, hint: `unset ${name} or give a number` });
  return Number(v);
}

export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): FerryConfig {
  const dataDir = resolve(cwd, env.FERRY_DATA_DIR || "data");
  const file = env.FERRY_CONFIG ? resolve(cwd, env.FERRY_CONFIG) : join(dataDir, "ferry.json");
  let fromFile: z.infer<typeof FileConfig> = {};
  if (existsSync(file)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new FerryError({ code: "config.invalid", message: `not valid JSON: ${(e as Error).message}`, file, hint: "fix the configuration file" });
    }
    const parsed = FileConfig.safeParse(raw);
    if (!parsed.success) throw invalid(file, parsed.error.issues);
    fromFile = parsed.data;
  } else if (env.FERRY_CONFIG) {
    throw new FerryError({ code: "config.missing", message: "configuration file not found", file, hint: "check FERRY_CONFIG" });
  }
  const base = fromFile.dataDir ? resolve(cwd, fromFile.dataDir) : dataDir;
  const config = {
    dataDir: base,
    // No share configured: serve the demo share that `npm start` creates.
    shares: fromFile.shares ?? [{ name: "demo", path: join(base, "demo-share"), readOnly: true, datastores: [] }],
    outputs: fromFile.outputs ?? [{ name: "output", path: join(base, "output") }],
    concurrency: intFromEnv(env, "FERRY_CONCURRENCY") ?? fromFile.concurrency ?? Math.max(1, cpus().length),
    perShareLimit: intFromEnv(env, "FERRY_SHARE_LIMIT") ?? fromFile.perShareLimit ?? 2,
    trustedProxies: fromFile.trustedProxies ?? [],
    // Relative certificate paths are relative to the configuration file.
    tls: fromFile.tls ? { cert: resolve(dirname(file), fromFile.tls.cert), key: resolve(dirname(file), fromFile.tls.key) } : null,
    plainHttp: env.FERRY_PLAIN_HTTP === "1" || (fromFile.plainHttp ?? false),
    databaseUrl: env.FERRY_DATABASE_URL || fromFile.databaseUrl || null,
    globalLimit: intFromEnv(env, "FERRY_GLOBAL_LIMIT") ?? fromFile.globalLimit ?? null,
    leaseSeconds: intFromEnv(env, "FERRY_LEASE_SECONDS") ?? fromFile.leaseSeconds ?? 30,
    overlayDir: env.FERRY_OVERLAY_DIR ? resolve(cwd, env.FERRY_OVERLAY_DIR) : fromFile.overlayDir ? resolve(dirname(file), fromFile.overlayDir) : join(base, "overlays"),
    // A relative path is relative to the configuration file.
    virtioWin: env.FERRY_VIRTIO_WIN ? resolve(cwd, env.FERRY_VIRTIO_WIN) : fromFile.virtioWin ? resolve(dirname(file), fromFile.virtioWin) : null,
  };
  const parsed = FerryConfig.safeParse(config);
  if (!parsed.success) throw invalid(existsSync(file) ? file : "(environment)", parsed.error.issues);
  return parsed.data;
}

export function findShare(config: Pick<FerryConfig, "shares">, name: string): Share {
  const s = config.shares.find((x) => x.name === name);
  if (!s) throw new FerryError({ code: "share.unknown", message: `no share named "${name}"`, file: null, hint: `configured shares: ${config.shares.map((x) => x.name).join(", ") || "none"}` });
  return s;
}

export function findOutput(config: Pick<FerryConfig, "outputs">, name: string | undefined): OutputTarget {
  const o = name === undefined ? config.outputs[0] : config.outputs.find((x) => x.name === name);
  if (!o) throw new FerryError({ code: "output.unknown", message: `no output target named "${name}"`, file: null, hint: `configured output targets: ${config.outputs.map((x) => x.name).join(", ")}` });
  return o;
}
