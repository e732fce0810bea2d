import { FerryError } from "../errors";
import { inspectGuest } from "../input/inspect-guest";
import { qemuImgSelfCheck } from "../qemu";
import { readVmxFile } from "../input/vmx-file";
import { confinement, inspectDisk, type Confinement } from "../vmdk";
import { printSource } from "../vmx";
import { dirname } from "node:path";
import { formatDisk, formatSummary } from "./summary";

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
  ferry check [--json]                   qemu-img's version and block drivers
  ferry --help | --version
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

class UsageError extends Error {}

export async function run(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
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
    io.out("ferry 0.1.0\n");
    return 0;
  }
  if (argv[0] === "inspect") return inspect(argv.slice(1), io);
  if (argv[0] === "disk") return disk(argv.slice(1), io);
  if (argv[0] === "check") return check(argv.slice(1), io);
  return v2v(argv, io);
}

function load(file: string) {
  const r = readVmxFile(file);
  if (!r.ok) throw r.error;
  return r.vm;
}

interface CommonArgs {
  json: boolean;
  files: string[];
  datastores: Confinement["datastores"];
}

function commonArgs(command: string, args: string[]): CommonArgs {
  const out: CommonArgs = { json: false, files: [], datastores: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json") out.json = true;
    else if (a === "--datastore") {
      const v = args[++i];
      const m = v ? /^(\/[^=]+)=(.+)$/.exec(v) : null;
      if (!m) throw new UsageError(`${command}: --datastore takes /vmfs/volumes/NAME=LOCAL-FOLDER`);
      out.datastores.push({ prefix: m[1]!, path: m[2]! });
    } else if (a.startsWith("-")) throw new UsageError(`${command}: unknown option ${a}`);
    else out.files.push(a);
  }
  if (out.files.length !== 1) throw new UsageError(`${command} takes exactly one file`);
  return out;
}

function inspect(args: string[], io: CliIo): number {
  const a = commonArgs("inspect", args);
  const vm = inspectGuest(a.files[0]!, { datastores: a.datastores });
  io.out(a.json ? JSON.stringify(vm, null, 2) + "\n" : formatSummary(vm));
  return 0;
}

function disk(args: string[], io: CliIo): number {
  const a = commonArgs("disk", args);
  const file = a.files[0]!;
  const facts = inspectDisk(file, dirname(file), { confinement: confinement(dirname(file), a.datastores) });
  io.out(a.json ? JSON.stringify(facts, null, 2) + "\n" : formatDisk(facts));
  return 0;
}

async function check(args: string[], io: CliIo): Promise<number> {
  if (args.some((a) => a !== "--json")) throw new UsageError("check takes only --json");
  const c = await qemuImgSelfCheck();
  io.out(args.includes("--json") ? JSON.stringify(c, null, 2) + "\n" : `qemu-img ${c.version}\nblock drivers: ${c.formats.join(" ")}\nvmdk, raw, qcow2: present\n`);
  return 0;
}

/** virt-v2v-style options: -i vmx FILE, --print-source. */
function v2v(args: string[], io: CliIo): number {
  let input: string | null = null;
  let printSrc = false;
  const files: string[] = [];
  const output: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "-i") input = value();
    else if (a === "--print-source") printSrc = true;
    else if (a === "-o" || a === "-os" || a === "-of" || a === "-oa" || a === "-on") output.push(a, value());
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else files.push(a);
  }
  if (input !== "vmx") throw new UsageError(input === null ? "-i vmx is required" : `-i ${input}: only -i vmx is supported`);
  if (files.length !== 1) throw new UsageError("-i vmx takes exactly one .vmx file");
  const vm = load(files[0]!);
  if (printSrc) {
    io.out(`[   0.0] Setting up the source: -i vmx ${files[0]}\n`);
    io.out(printSource(vm));
    return 0;
  }
  throw new UsageError(`conversion (${output.join(" ") || "-o"}) is not available yet: this build only reads guests (use --print-source or ferry inspect)`);
}

const isMain = process.argv[1] && /server[\\/]cli[\\/]main\.ts$/.test(process.argv[1]);
if (isMain) {
  void run(process.argv.slice(2), {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  }).then((code) => {
    process.exitCode = code;
  });
}
