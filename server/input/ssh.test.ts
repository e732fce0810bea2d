/**
 * The SSH input against a real OpenSSH server (test/fixtures/sshd.ts):
 * SFTP reads with the local checks, qemu-img's ssh driver as the overlay's
 * backing, host and user keys refused with clear errors, a connection
 * killed mid-copy.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../cli/main";
import { FerryError } from "../errors";
import { planTarget } from "../plan";
import { runPipeline, type PipelineEvent } from "../pipeline";
import { makeGuest } from "../../test/fixtures/guest";
import { fingerprint as dirFingerprint } from "../../test/fixtures/fingerprint";
import { shareWithUser, startSshd, type TestSshd } from "../../test/fixtures/sshd";
import { inspectGuest } from "./inspect-guest";
import { checkHostKey, parseSshUrl, SshInput, sshUrl } from "./ssh";

let sshd: TestSshd;
let ds: string;
const work = mkdtempSync(join(tmpdir(), "ferry-ssh-test-"));

beforeAll(async () => {
  sshd = await startSshd();
  ds = sshd.datastoreLocal;
  makeGuest(ds, "web01", [{ slot: "scsi0:0", sizeMiB: 24, dataMiB: 6 }]);
  // A vmfs (flat) guest as ESXi lays it out.
  mkdirSync(join(ds, "esx01"));
  execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", join(ds, "esx01", "esx01.vmdk"), "16M"]);
  execFileSync("qemu-io", ["-f", "vmdk", "-c", "write -P 0x5a 1M 3M", join(ds, "esx01", "esx01.vmdk")], { stdio: "ignore" });
  writeFileSync(join(ds, "esx01", "esx01.vmx"), 'displayName = "esx01"\nguestOS = "debian12-64"\nmemsize = "512"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "esx01.vmdk"\n');
  makeGuest(ds, "slow01", [{ slot: "scsi0:0", sizeMiB: 16, dataMiB: 10 }]);
  makeGuest(ds, "snap01", [{ slot: "scsi0:0", sizeMiB: 8, dataMiB: 1, snapshots: 1 }]);
  // Hostile: an extent that leaves the guest's folder, and one through a symlink.
  mkdirSync(join(ds, "evil"));
  writeFileSync(join(ds, "evil", "evil.vmx"), 'displayName = "evil"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "evil.vmdk"\nscsi0:1.present = "TRUE"\nscsi0:1.fileName = "link.vmdk"\n');
  writeFileSync(join(ds, "evil", "evil.vmdk"), '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 16 FLAT "/vmfs/volumes/datastore1/web01/web01.vmdk" 0\n');
  symlinkSync("/vmfs/volumes/datastore1/esx01/esx01.vmdk", join(ds, "evil", "link.vmdk"));
  mkdirSync(join(ds, "split01"));
  execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", join(ds, "split01", "split01.vmdk"), "3G"]);
  writeFileSync(join(ds, "split01", "split01.vmx"), 'displayName = "split01"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "split01.vmdk"\n');
  mkdirSync(join(ds, "My Guest"));
  execFileSync("qemu-img", ["create", "-q", "-f", "vmdk", join(ds, "My Guest", "My Guest.vmdk"), "4M"]);
  writeFileSync(join(ds, "My Guest", "My Guest.vmx"), 'displayName = "My Guest"\nscsi0.present = "TRUE"\nscsi0:0.present = "TRUE"\nscsi0:0.fileName = "My Guest.vmdk"\n');
  shareWithUser(ds);
});

afterAll(() => {
  sshd?.stop();
});

const connect = (o: { identityFile?: string; knownHosts?: string } = {}) =>
  SshInput.connect({ host: sshd.host, port: sshd.port, user: sshd.user, identityFile: o.identityFile ?? sshd.identity, knownHosts: o.knownHosts ?? sshd.knownHosts, timeoutMs: 15_000 });

async function refusal(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error("expected a refusal");
}

describe("ssh:// URLs", () => {
  it("reads virt-v2v's form, with a percent-encoded path", () => {
    expect(parseSshUrl("ssh://root@esxi.lan/vmfs/volumes/ds1/My%20Guest/My%20Guest.vmx")).toEqual({ user: "root", host: "esxi.lan", port: 22, path: "/vmfs/volumes/ds1/My Guest/My Guest.vmx" });
    expect(parseSshUrl("ssh://esxi:2222/a/b.vmx")).toMatchObject({ user: "root", port: 2222 });
    expect(sshUrl({ user: "root", host: "h", port: 2222 }, "/a b/c.vmx")).toBe("ssh://root@h:2222/a%20b/c.vmx");
  });
  it.each([
    ["http://h/a.vmx", "not an ssh:// URL"],
    ["ssh://root:pw@h/a.vmx", "password"],
    ["ssh://h/", "names no file"],
    ["ssh://h/a/../../etc/passwd", "climbs out"],
    ["ssh://h/a%00b.vmx", "NUL"],
    ["ssh://h/a.vmx?x=1", "query"],
    ["ssh://-oProxyCommand=x@h/a.vmx", "invalid user"],
  ])("refuses %s", (url, why) => {
    expect(() => parseSshUrl(url)).toThrow(expect.objectContaining({ code: "ssh.url", message: expect.stringContaining(why) }));
  });
});

describe("host keys", () => {
  it("refuses an unknown host key, naming its fingerprint", async () => {
    const empty = join(work, "empty_known_hosts");
    writeFileSync(empty, "");
    const e = await refusal(connect({ knownHosts: empty }));
    expect(e.code).toBe("ssh.host-key-unknown");
    expect(e.message).toContain(sshd.fingerprint);
    expect(e.file).toBe(`ssh://${sshd.user}@127.0.0.1:${sshd.port}/`);
  });
  it("refuses a changed host key, naming the offered fingerprint", async () => {
    const other = join(work, "other_known_hosts");
    writeFileSync(other, `[127.0.0.1]:${sshd.port} ${sshd.otherHostKey}\n`);
    const e = await refusal(connect({ knownHosts: other }));
    expect(e.code).toBe("ssh.host-key-changed");
    expect(e.message).toContain(sshd.fingerprint);
    expect(e.hint).toContain(other);
  });
  it("shows the key on first contact, for an admin to accept", async () => {
    const k = await SshInput.probeHostKey({ host: sshd.host, port: sshd.port });
    expect(k.fingerprint).toBe(sshd.fingerprint);
    expect(k.keyLine).toBe(sshd.hostKey);
    const blob = Buffer.from(sshd.hostKey.split(" ")[1]!, "base64");
    expect(checkHostKey(`[127.0.0.1]:${sshd.port} ${k.keyLine}\n`, "127.0.0.1", sshd.port, blob)).toEqual({ state: "known" });
    expect(checkHostKey(`127.0.0.1 ${k.keyLine}\n`, "127.0.0.1", sshd.port, blob).state).toBe("unknown");
  });
  it("refuses a key the server does not know", async () => {
    const e = await refusal(connect({ identityFile: sshd.wrongIdentity }));
    expect(e.code).toBe("ssh.auth");
    expect(e.message).toContain(sshd.wrongIdentity);
  });
  it("names a missing identity file, and a passphrase-protected one", async () => {
    expect(await refusal(connect({ identityFile: join(work, "no-key") }))).toMatchObject({ code: "ssh.identity", file: join(work, "no-key") });
    const locked = join(work, "locked_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", locked], { stdio: "ignore" });
    const e = await refusal(connect({ identityFile: locked }));
    expect(e.code).toBe("ssh.identity");
    expect(e.hint).toContain("ssh-agent");
  });
  it("says so when there is no identity file and no ssh-agent", async () => {
    const sock = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const e = await refusal(SshInput.connect({ host: sshd.host, port: sshd.port, user: sshd.user, knownHosts: sshd.knownHosts }));
      expect(e.code).toBe("ssh.no-key");
    } finally {
      if (sock !== undefined) process.env.SSH_AUTH_SOCK = sock;
    }
  });
  it("names a missing known_hosts file", async () => {
    const e = await refusal(connect({ knownHosts: join(work, "nope") }));
    expect(e).toMatchObject({ code: "ssh.known-hosts", file: join(work, "nope") });
  });
  it("names a port where nothing listens", async () => {
    const e = await refusal(SshInput.connect({ host: "127.0.0.1", port: 1, user: "x", identityFile: sshd.identity, knownHosts: sshd.knownHosts }));
    expect(e.code).toBe("ssh.connect");
  });
});

describe("reading a guest over SFTP", () => {
  it("inspects a guest as a local one, with the same facts", async () => {
    const input = await connect();
    try {
      const remote = await inspectGuest(`${sshd.datastore}/web01/web01.vmx`, { input });
      const local = await inspectGuest(join(ds, "web01", "web01.vmx"));
      expect(remote.name).toBe("web01");
      expect(remote.diskFacts[0]!.facts).toMatchObject({ capacityBytes: local.diskFacts[0]!.facts!.capacityBytes, allocatedBytes: local.diskFacts[0]!.facts!.allocatedBytes, createType: "monolithicSparse" });
      expect(remote.diskFacts[0]!.facts!.source.uri).toMatch(/^json:\{"driver":"vmdk","backing":null,"file":\{"driver":"ssh"/);
      expect(remote.concerns.filter((c) => c.severity === "critical")).toEqual([]);
      const spaced = await inspectGuest(`${sshd.datastore}/My Guest/My Guest.vmx`, { input });
      expect(spaced.diskFacts[0]!.error).toBeNull();
    } finally {
      await input.close();
    }
  });

  it("refuses an extent outside the guest's folder and a symlink leading out, as critical concerns", async () => {
    const input = await connect();
    try {
      const vm = await inspectGuest(`${sshd.datastore}/evil/evil.vmx`, { input });
      expect(vm.diskFacts.map((d) => d.error?.code)).toEqual(["vmdk.path.outside", "vmdk.path.outside"]);
      expect(vm.diskFacts[1]!.error!.message).toContain("symbolic link");
    } finally {
      await input.close();
    }
  });

  it("refuses a split disk, which qemu could read only by parsing the remote descriptor", async () => {
    const input = await connect();
    try {
      const vm = await inspectGuest(`${sshd.datastore}/split01/split01.vmx`, { input });
      expect(vm.diskFacts[0]!.error).toMatchObject({ code: "ssh.split-disk", message: expect.stringContaining("twoGbMaxExtentSparse") });
    } finally {
      await input.close();
    }
  });

  it("refuses a snapshot chain with a clear message", async () => {
    const input = await connect();
    try {
      const vm = await inspectGuest(`${sshd.datastore}/snap01/snap01.vmx`, { input });
      expect(vm.diskFacts[0]!.error).toMatchObject({ code: "ssh.snapshot-chain", message: expect.stringContaining("snapshot chains are not read over SSH") });
      expect(vm.concerns[0]).toMatchObject({ severity: "critical", id: "ssh.snapshot-chain" });
    } finally {
      await input.close();
    }
  });

  it("names a VMX that does not exist by its URL", async () => {
    const input = await connect();
    try {
      const e = await refusal(inspectGuest(`${sshd.datastore}/nope/nope.vmx`, { input }));
      expect(e).toMatchObject({ code: "vmx.not-found", file: expect.stringMatching(/^ssh:\/\/.*\/vmfs\/volumes\/datastore1\/nope\/nope\.vmx$/) });
    } finally {
      await input.close();
    }
  });
});

describe("copying over SSH", () => {
  async function copy(vmxRemote: string, onEvent?: (e: PipelineEvent, input: SshInput) => void, rateLimit = 4 * 1024 * 1024) {
    const input = await connect();
    const out = mkdtempSync(join(work, "out-"));
    const events: PipelineEvent[] = [];
    let error: FerryError | null = null;
    try {
      const plan = planTarget(await inspectGuest(vmxRemote, { input }), { outputDir: out, copyOnly: true, rateLimit });
      await runPipeline(plan, { emit: (e) => (events.push(e), onEvent?.(e, input)), input });
    } catch (e) {
      error = e as FerryError;
    } finally {
      await input.close();
    }
    return { out, events, error };
  }

  it.each([
    ["web01", "web01.vmdk", "web01-sda"],
    ["esx01", "esx01.vmdk", "esx01-sda"],
  ])("copies %s (copy-only) equal to its source, the source unchanged", async (name, disk, target) => {
    const before = dirFingerprint(join(ds, name));
    const r = await copy(`${sshd.datastore}/${name}/${name}.vmx`);
    expect(r.error).toBeNull();
    execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", join(ds, name, disk), join(r.out, target)]);
    expect(dirFingerprint(join(ds, name))).toEqual(before);
  });

  it("authenticates through ssh-agent when no identity file is given (SFTP and qemu-img alike)", async () => {
    const agentDir = mkdtempSync(join(work, "agent-"));
    const sock = join(agentDir, "agent.sock");
    const out = execFileSync("ssh-agent", ["-s", "-a", sock], { encoding: "utf8" });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    const before = process.env.SSH_AUTH_SOCK;
    try {
      execFileSync("ssh-add", ["-q", sshd.identity], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      process.env.SSH_AUTH_SOCK = sock;
      const input = await SshInput.connect({ host: sshd.host, port: sshd.port, user: sshd.user, knownHosts: sshd.knownHosts });
      const dir = mkdtempSync(join(work, "agent-out-"));
      try {
        const plan = planTarget(await inspectGuest(`${sshd.datastore}/web01/web01.vmx`, { input }), { outputDir: dir, copyOnly: true });
        await runPipeline(plan, { emit: () => undefined, input });
      } finally {
        await input.close();
      }
      execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", join(ds, "web01", "web01.vmdk"), join(dir, "web01-sda")]);
    } finally {
      if (before === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = before;
      process.kill(pid, "SIGTERM");
    }
  });

  it("fails cleanly when the connection is killed mid-copy, and a retry succeeds", async () => {
    let killed = 0;
    // 10 MiB at 1 MiB/s: the connections are killed a second into the copy.
    const r = await copy(
      `${sshd.datastore}/slow01/slow01.vmx`,
      (e) => {
        if (e.type === "stage" && e.state === "started" && e.name.startsWith("Copying")) setTimeout(() => (killed = sshd.killConnections()), 1000);
      },
      1024 * 1024,
    );
    expect(killed).toBeGreaterThan(0);
    expect(r.error).toBeInstanceOf(FerryError);
    expect(r.error!.message).toMatch(/qemu-img convert failed|connection|closed/i);
    expect(readdirSync(r.out)).toEqual([]);
    const again = await copy(`${sshd.datastore}/slow01/slow01.vmx`);
    expect(again.error).toBeNull();
    execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", join(ds, "slow01", "slow01.vmdk"), join(again.out, "slow01-sda")]);
  });
});

describe("CLI -i vmx -it ssh", () => {
  const cli = async (args: string[]) => {
    let out = "";
    let err = "";
    const code = await run(args, { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
  const url = () => `ssh://${sshd.user}@127.0.0.1:${sshd.port}${sshd.datastore}/web01/web01.vmx`;

  it("prints the source and converts with --copy-only", async () => {
    const p = await cli(["-i", "vmx", "-it", "ssh", url(), "--ssh-identity", sshd.identity, "--ssh-known-hosts", sshd.knownHosts, "--print-source"]);
    expect(p.err).toBe("");
    expect(p.code).toBe(0);
    expect(p.out).toContain("web01");
    const out = mkdtempSync(join(work, "cli-"));
    const c = await cli(["-i", "vmx", "-it", "ssh", url(), "--ssh-identity", sshd.identity, "--ssh-known-hosts", sshd.knownHosts, "-o", "local", "-os", out, "--copy-only"]);
    expect(c.err).not.toContain("error");
    expect(c.code).toBe(0);
    execFileSync("qemu-img", ["compare", "-q", "-f", "vmdk", "-F", "raw", join(ds, "web01", "web01.vmdk"), join(out, "web01-sda")]);
  });

  it("prints a refused host key as an error with its fingerprint and a hint", async () => {
    const other = join(work, "cli_known_hosts");
    writeFileSync(other, `[127.0.0.1]:${sshd.port} ${sshd.otherHostKey}\n`);
    const c = await cli(["-i", "vmx", "-it", "ssh", url(), "--ssh-identity", sshd.identity, "--ssh-known-hosts", other, "--print-source"]);
    expect(c.code).toBe(1);
    expect(c.err).toContain("ferry: error: ssh://");
    expect(c.err).toContain(sshd.fingerprint);
    expect(c.err).toContain("ferry: hint:");
  });

  it("refuses SSH options without -it ssh, and --datastore with it", async () => {
    expect((await cli(["-i", "vmx", "/x.vmx", "--ssh-identity", "k", "--print-source"])).err).toContain("need -it ssh");
    expect((await cli(["-i", "vmx", "-it", "ssh", url(), "--datastore", "/vmfs/volumes/a=/b", "--print-source"])).err).toContain("--datastore");
  });
});
