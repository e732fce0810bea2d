import { FerryError } from "../errors";
import { inspectGuest } from "../input/inspect-guest";
import { qemuImgSelfCheck } from "../qemu";
import { readVmxFile } from "../input/vmx-file";
import type { Input } from "../input/input";
import { parseSshUrl, SshInput } from "../input/ssh";
import { confinement, inspectDisk, type Confinement } from "../vmdk";
import { planTarget, type LibvirtTarget } from "../plan";
import { DEFAULT_URI, probeLibvirt } from "../libvirt/host";
import { runPipeline } from "../pipeline";
import { printSource } from "../vmx";
import { humanPrinter, jsonPrinter } from "./printer";
import { dirname, resolve } from "node:path";
import { readVirtioWin } from "../convert/virtio-win-source";
import { formatDisk, formatSummary } from "./summary";
import { USER_USAGE, userCommand, UserUsageError } from "./users";
import { FERRY_VERSION } from "../version";
import { HostName } from "../jobs/job";

/**
 * `ferry`: the command line. Speaks virt-v2v's dialect
 * (`ferry -i vmx FILE.vmx --print-source`) plus `ferry inspect`.
 */

const USAGE = `usage:
  ferry inspect FILE.vmx [--json] [--datastore /vmfs/volumes/DS=DIR]...
                                         the guest and its disks, as an admin reads them
  ferry disk FILE.vmdk [--json] [--datastore /vmfs/volumes/DS=DIR]...
                                         one disk: type, size, allocation, snapshot chain
  ferry -i vmx FILE.vmx --print-source   the source block, as virt-v2v prints it
  ferry -i vmx FILE.vmx -o local|qemu|json -os DIR [options]
                                         convert the guest into DIR
  ferry -i vmx FILE.vmx -o libvirt [-oc URI] -os POOL [--start] [options]
                                         convert the guest into libvirt: its disks volumes of
                                         storage pool POOL, the guest a defined domain
  ferry -i vmx -it ssh ssh://[USER@]HOST[:PORT]/PATH/GUEST.vmx --ssh-known-hosts FILE [--ssh-identity KEY] ...
                                         the same, reading the guest over SSH (SFTP and qemu's ssh driver)
    -of raw|qcow2            disk format (raw)
    -oa sparse|preallocated  disk allocation (sparse)
    -on NAME                 the guest's name on KVM (from displayName)
    -oc URI                  -o libvirt: the libvirt to define the guest in (qemu:///system)
    --start                  -o libvirt: start the guest once it is defined
    -n, --network [IN:]OUT   map NICs on source network IN (or all) to libvirt network OUT
    -b, --bridge [IN:]OUT    map NICs on source network IN (or all) to bridge OUT
    --mac MAC:network|bridge:NAME   map one NIC by its MAC
    --datastore /vmfs/volumes/DS=DIR   where an ESXi datastore is on this host
    --parallel N             copy N disks at once (1)
    --rate-limit MIB         read at most MIB MiB/s per disk, to spare a busy NAS
    --copy-only              copy disks and write metadata; no guest conversion (may not boot)
    --no-boot-check          do not boot the result to prove it works (on by default when converting)
    --boot-check             boot the result even with --copy-only
    --boot-timeout SECONDS   give up waiting for a login prompt after this long (180 with KVM, 600 under TCG)
    --overwrite              replace existing output files (and, -o libvirt, a shut-off domain of the same name)
    --virtio-win PATH        Windows guests: virtio-win's drivers, the ISO or an unpacked tree
                             (/usr/share/virtio-win); without it Windows gets SATA and e1000e
    -it ssh                  the .vmx is an ssh:// URL (virt-v2v's form, path percent-encoded)
    --ssh-known-hosts FILE   host keys to trust (default ~/.ssh/known_hosts); an unknown or changed key is refused
    --ssh-identity KEY       private key to log in with (default: the keys in ssh-agent)
    --machine-readable       one JSON event per line on stdout
    -v, --verbose            print log lines
  ferry check [--json]                   qemu-img's version and block drivers
  ferry worker [--host NAME]             run queued jobs as conversion host NAME (default: this machine's host name;
                                         the web server runs one too, unless FERRY_NO_WORKER=1)
${USER_USAGE}  ferry --help | --version
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** All of standard input (`ferry user add --password-stdin`). */
  stdin?: () => Promise<string>;
}

class UsageError extends Error {}

export async function run(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    if (e instanceof UsageError || e instanceof UserUsageError) {
      io.err(`ferry: error: ${e.message}\n${USAGE}`);
      return 1;
    }
    if (e instanceof FerryError) {
      io.err(`ferry: error: ${e.describe()}\n${e.hint ? `ferry: hint: ${e.hint}\n` : ""}`);
      return 1;
    }
    io.err(`ferry: error: internal error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
    io.out(USAGE);
    return argv.length === 0 ? 1 : 0;
  }
  if (argv.includes("--version") || argv.includes("-V")) {
    io.out(`ferry ${FERRY_VERSION}\n`);
    return 0;
  }
  if (argv[0] === "inspect") return inspect(argv.slice(1), io);
  if (argv[0] === "disk") return disk(argv.slice(1), io);
  if (argv[0] === "check") return check(argv.slice(1), io);
  if (argv[0] === "worker") return worker(argv.slice(1), io);
  if (argv[0] === "user") return userCommand(argv.slice(1), io);
  return v2v(argv, io);
}

async function load(file: string, input?: Input) {
  const r = await readVmxFile(file, {}, input);
  if (!r.ok) throw r.error;
  return r.vm;
}

interface CommonArgs {
  json: boolean;
  files: string[];
  datastores: Confinement["datastores"];
}

/** `--datastore /vmfs/volumes/NAME=LOCAL-FOLDER`. */
function parseDatastore(v: string | undefined, context = ""): Confinement["datastores"][number] {
  const m = v ? /^(\/[^=]+)=(.+)$/.exec(v) : null;
  if (!m) throw new UsageError(`${context}--datastore takes /vmfs/volumes/NAME=LOCAL-FOLDER`);
  return { prefix: m[1]!, path: m[2]! };
}

function commonArgs(command: string, args: string[]): CommonArgs {
  const out: CommonArgs = { json: false, files: [], datastores: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json") out.json = true;
    else if (a === "--datastore") {
      out.datastores.push(parseDatastore(args[++i], `${command}: `));
    } else if (a.startsWith("-")) throw new UsageError(`${command}: unknown option ${a}`);
    else out.files.push(a);
  }
  if (out.files.length !== 1) throw new UsageError(`${command} takes exactly one file`);
  return out;
}

async function inspect(args: string[], io: CliIo): Promise<number> {
  const a = commonArgs("inspect", args);
  const vm = await inspectGuest(a.files[0]!, { datastores: a.datastores });
  io.out(a.json ? JSON.stringify(vm, null, 2) + "\n" : formatSummary(vm));
  return 0;
}

async function disk(args: string[], io: CliIo): Promise<number> {
  const a = commonArgs("disk", args);
  const file = a.files[0]!;
  const facts = await inspectDisk(file, dirname(file), { confinement: await confinement(dirname(file), a.datastores) });
  io.out(a.json ? JSON.stringify(facts, null, 2) + "\n" : formatDisk(facts));
  return 0;
}

/** The job worker on its own, until SIGTERM or SIGINT; jobs it was running are cancelled cleanly. */
async function worker(args: string[], io: CliIo): Promise<number> {
  let host: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--host" && args[i + 1] !== undefined) host = args[++i];
    else if (args[i]!.startsWith("--host=")) host = args[i]!.slice("--host=".length);
    else throw new UsageError("worker takes only --host NAME (configure it with FERRY_DATA_DIR / FERRY_CONFIG / FERRY_DATABASE_URL)");
  }
  const name = host === undefined ? null : HostName.safeParse(host);
  if (name && !name.success) throw new UsageError(`worker --host ${JSON.stringify(host)}: ${name.error.issues[0]!.message}`);
  const { ferry, jsonLog } = await import("../app");
  const f = ferry({ host: host ?? (process.env.FERRY_HOST || undefined), bootstrap: false });
  f.worker.start();
  await f.worker.ready();
  jsonLog({ msg: "worker started", host: f.worker.host, pid: process.pid, store: f.storeKind, dataDir: f.config.dataDir, overlayDir: f.config.overlayDir, concurrency: f.config.concurrency });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  await f.worker.stop(true);
  await f.store.close();
  io.err("ferry: worker stopped\n");
  return 0;
}

async function check(args: string[], io: CliIo): Promise<number> {
  if (args.some((a) => a !== "--json")) throw new UsageError("check takes only --json");
  const c = await qemuImgSelfCheck();
  io.out(args.includes("--json") ? JSON.stringify(c, null, 2) + "\n" : `qemu-img ${c.version}\nblock drivers: ${c.formats.join(" ")}\nvmdk, raw, qcow2: present\n`);
  return 0;
}

/** virt-v2v-style options: -i vmx FILE [--print-source | -o MODE -os DIR ...]. */
async function v2v(args: string[], io: CliIo): Promise<number> {
  let input: string | null = null;
  let transport: string | null = null;
  let knownHosts: string | null = null;
  let identity: string | null = null;
  let printSrc = false;
  let machineReadable = false;
  let verbose = false;
  const files: string[] = [];
  const o: { mode?: string; dir?: string; uri?: string; start?: boolean; format?: string; allocation?: string; name?: string; parallel?: number; rateLimit?: number } = {};
  const networks: string[] = [];
  const bridges: string[] = [];
  const macs: string[] = [];
  const datastores: Confinement["datastores"] = [];
  let copyOnly = false;
  let overwrite = false;
  let bootCheck: boolean | undefined;
  let bootTimeoutMs: number | undefined;
  let virtioWin: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined || (v.startsWith("-") && v.length > 1)) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const oneOf = (v: string, allowed: string[]) => {
      if (!allowed.includes(v)) throw new UsageError(`${a} ${v}: expected ${allowed.join(" or ")}`);
      return v;
    };
    switch (a) {
      case "-i": input = value(); break;
      case "-it": transport = oneOf(value(), ["ssh"]); break;
      case "--ssh-known-hosts": knownHosts = value(); break;
      case "--ssh-identity": identity = value(); break;
      case "--print-source": printSrc = true; break;
      case "-o": o.mode = oneOf(value(), ["local", "qemu", "json", "libvirt"]); break;
      case "-os": o.dir = value(); break;
      case "-oc": o.uri = value(); break;
      case "--start": o.start = true; break;
      case "-of": o.format = oneOf(value(), ["raw", "qcow2"]); break;
      case "-oa": o.allocation = oneOf(value(), ["sparse", "preallocated"]); break;
      case "-on": o.name = value(); break;
      case "-n": case "--network": networks.push(value()); break;
      case "-b": case "--bridge": bridges.push(value()); break;
      case "--mac": macs.push(value()); break;
      case "--datastore": datastores.push(parseDatastore(value())); break;
      case "--parallel": {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 16) throw new UsageError(`--parallel ${v}: expected a number from 1 to 16`);
        o.parallel = Number(v);
        break;
      }
      case "--machine-readable": machineReadable = true; break;
      case "-v": case "--verbose": verbose = true; break;
      case "--copy-only": copyOnly = true; break;
      case "--no-boot-check": bootCheck = false; break;
      case "--boot-check": bootCheck = true; break;
      case "--boot-timeout": {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 10 || Number(v) > 7200) throw new UsageError(`--boot-timeout ${v}: expected seconds, from 10 to 7200`);
        bootTimeoutMs = Number(v) * 1000;
        break;
      }
      case "--rate-limit": {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--rate-limit ${v}: expected MiB per second, a whole number of at least 1`);
        o.rateLimit = Number(v);
        break;
      }
      case "--overwrite": overwrite = true; break;
      case "--virtio-win": virtioWin = value(); break;
      default:
        if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
        files.push(a);
    }
  }
  if (input !== "vmx") throw new UsageError(input === null ? "-i vmx is required" : `-i ${input}: only -i vmx is supported`);
  if (files.length !== 1) throw new UsageError("-i vmx takes exactly one .vmx file");
  if (transport === null && (knownHosts !== null || identity !== null)) throw new UsageError("--ssh-known-hosts and --ssh-identity need -it ssh");
  if (transport === "ssh" && datastores.length) throw new UsageError("--datastore maps ESXi paths to local folders; over -it ssh the paths are read on the server as they are");
  if (!printSrc) {
    if (!o.mode) throw new UsageError("-o local|qemu|json|libvirt is required (or --print-source)");
    if (!o.dir) throw new UsageError(o.mode === "libvirt" ? "-o libvirt needs -os POOL, the storage pool to put the disks in" : `-o ${o.mode} needs -os DIR, the folder to write the guest to`);
    if (o.mode !== "libvirt" && o.uri !== undefined) throw new UsageError(`-oc names a libvirt connection: it goes with -o libvirt, not -o ${o.mode}`);
    if (o.mode !== "libvirt" && o.start) throw new UsageError(`--start starts the guest in libvirt: it goes with -o libvirt, not -o ${o.mode}`);
  }
  // The one place the CLI picks its input.
  let vmxPath = files[0]!;
  let source: Input | undefined;
  if (transport === "ssh") {
    const t = parseSshUrl(files[0]!);
    vmxPath = t.path;
    source = await SshInput.connect({ host: t.host, port: t.port, user: t.user, identityFile: identity, knownHosts: knownHosts ?? `${process.env.HOME ?? "/root"}/.ssh/known_hosts` });
  }
  try {
    return await convertFrom(vmxPath, files[0]!, source);
  } finally {
    await source?.close();
  }

  async function convertFrom(vmxPath: string, shown: string, source: Input | undefined): Promise<number> {
  if (printSrc) {
    const vm = await load(vmxPath, source);
    io.out(`[   0.0] Setting up the source: -i vmx ${transport ? `-it ${transport} ` : ""}${shown}\n`);
    io.out(printSource(vm));
    return 0;
  }
  // -o libvirt: the daemon, the pool and the host's offer, read (and refused) before anything else.
  let libvirt: LibvirtTarget | undefined;
  if (o.mode === "libvirt") libvirt = await probeLibvirt(o.uri ?? DEFAULT_URI, o.dir!);
  const vm = await inspectGuest(vmxPath, { datastores, input: source });
  const plan = planTarget(vm, {
    output: o.mode as "local",
    outputDir: libvirt?.poolPath ?? o.dir!,
    libvirt,
    start: o.start ?? false,
    format: (o.format ?? "raw") as "raw",
    allocation: (o.allocation ?? "sparse") as "sparse",
    name: o.name,
    networks,
    bridges,
    macs,
    copyOnly,
    bootCheck,
    parallel: o.parallel ?? 1,
    overwrite,
    rateLimit: o.rateLimit ? o.rateLimit * 1024 * 1024 : null,
    // Read only for a Windows guest: a Linux guest never needs the tree.
    virtioWin: virtioWin && vm.guestOS.family === "windows" ? await readVirtioWin(resolve(virtioWin)) : null,
  });
  const printer = machineReadable ? jsonPrinter(io) : humanPrinter(io, verbose);
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigint);
  try {
    await runPipeline(plan, { emit: printer, signal: ac.signal, bootTimeoutMs, verbose, input: source });
    return 0;
  } catch (e) {
    if (machineReadable && e instanceof FerryError) return 1; // already reported as an event
    throw e;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  }
}

const isMain = process.argv[1] && /server[\\/]cli[\\/]main\.ts$/.test(process.argv[1]);
if (isMain) {
  void run(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    stdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  }).then((code) => {
    process.exitCode = code;
  });
}
