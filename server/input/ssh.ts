import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { Client, type SFTPWrapper, type Stats as SftpStats } from "ssh2";
import { FerryError } from "../errors";
import { errnoError, type DirEntry, type DiskSource, type FileStat, type FileType, type Input, type OpenFile, type ValidatedDisk } from "./input";

/**
 * Guests on an SSH server (an ESXi host, or any machine with SFTP): the
 * VMX and the VMDK descriptors are read over SFTP through the same checks
 * as local files; the disk data is read by qemu-img's ssh driver, pinned
 * to the host key Ferry verified, as the read-only backing of the overlay.
 */

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** The remote path, percent-decoded. */
  path: string;
}

/** virt-v2v's form: `ssh://[USER@]HOST[:PORT]/PATH`, the path percent-encoded. */
export function parseSshUrl(url: string, defaultUser = "root"): SshTarget {
  const bad = (why: string) => new FerryError({ code: "ssh.url", message: `"${url}" ${why}`, file: url, hint: "give ssh://[USER@]HOST[:PORT]/vmfs/volumes/DATASTORE/GUEST/GUEST.vmx" });
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad("is not a URL");
  }
  if (u.protocol !== "ssh:") throw bad("is not an ssh:// URL");
  // URL() resolves dot segments away: look at the text as given.
  if (/\/(\.|%2e){2}(\/|$|\?|#)/i.test(url)) throw bad("climbs out with ..");
  if (u.password) throw bad("holds a password; Ferry authenticates with keys only");
  if (u.search || u.hash) throw bad("has a query or fragment");
  if (!u.hostname) throw bad("names no host");
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    throw bad("has a badly percent-encoded path");
  }
  if (path.includes("\0")) throw bad("has a NUL byte in its path");
  if (!path.startsWith("/") || path === "/") throw bad("names no file");
  if (path.split("/").includes("..")) throw bad("climbs out with ..");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw bad("has an invalid host name");
  const user = u.username ? decodeURIComponent(u.username) : defaultUser;
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*$/.test(user)) throw bad("has an invalid user name");
  return { user, host, port: u.port ? Number(u.port) : 22, path: posix.normalize(path) };
}

export function sshUrl(t: Omit<SshTarget, "path">, path: string): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `ssh://${encodeURIComponent(t.user)}@${host}${t.port === 22 ? "" : `:${t.port}`}${path.split("/").map(encodeURIComponent).join("/")}`;
}

export interface SshOptions {
  host: string;
  port: number;
  user: string;
  /** A private key file (unencrypted, or already in the agent); without it, the ssh-agent's keys. */
  identityFile?: string | null;
  /** The known_hosts file the server's key must be in. */
  knownHosts: string;
  /** Per request; a server that stops answering fails after this long. */
  timeoutMs?: number;
}

/** `SHA256:base64` (no padding), as OpenSSH prints a key's fingerprint. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

function keyType(blob: Buffer): string {
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString("latin1");
}

/** Whether a known_hosts host field (patterns, `[host]:port`, hashed `|1|salt|hash`) names this host and port. */
function hostMatches(field: string, host: string, port: number): boolean {
  const name = port === 22 ? host : `[${host}]:${port}`;
  let hit = false;
  for (const pat of field.split(",")) {
    if (pat.startsWith("|1|")) {
      const [, , salt, hash] = pat.split("|");
      if (salt && hash && createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash) hit = true;
      continue;
    }
    const neg = pat.startsWith("!");
    const p = neg ? pat.slice(1) : pat;
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
    if (re.test(name)) {
      if (neg) return false;
      hit = true;
    }
  }
  return hit;
}

export type HostKeyVerdict = { state: "known" } | { state: "unknown"; fingerprint: string; keyLine: string } | { state: "changed"; fingerprint: string; keyLine: string };

/** The server's key against a known_hosts file: known, unknown, or changed (another key of the same type is listed). */
export function checkHostKey(knownHostsText: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const type = keyType(key);
  const b64 = key.toString("base64");
  let sameType = false;
  for (const raw of knownHostsText.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    if (parts[0]!.startsWith("@")) {
      if (parts[0] === "@revoked" && parts[3] === b64) return { state: "changed", fingerprint: fingerprint(key), keyLine: `${type} ${b64}` };
      continue;
    }
    const [hosts, t, k] = parts;
    if (!hosts || !t || !k || !hostMatches(hosts, host, port)) continue;
    if (t === type && k === b64) return { state: "known" };
    if (t === type) sameType = true;
  }
  const fp = fingerprint(key);
  return sameType ? { state: "changed", fingerprint: fp, keyLine: `${type} ${b64}` } : { state: "unknown", fingerprint: fp, keyLine: `${type} ${b64}` };
}

/** The known_hosts line that accepts this key for this host. */
export function knownHostsLine(host: string, port: number, keyLine: string): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${keyLine}\n`;
}

const S_IFMT = 0o170000;
function typeOfMode(mode: number): FileType {
  switch (mode & S_IFMT) {
    case 0o100000: return "file";
    case 0o040000: return "folder";
    case 0o120000: return "symlink";
    case 0o010000: return "fifo";
    case 0o060000: case 0o020000: return "device";
    case 0o140000: return "socket";
    default: return "other";
  }
}
function statOf(s: SftpStats): FileStat {
  return { type: typeOfMode(s.mode), size: s.size, mtimeMs: s.mtime * 1000, id: null, allocatedBytes: null };
}

/** SFTP status codes to errno names, so callers keep the messages they give for local files. */
function sftpErrno(e: unknown, path: string): Error {
  const code = (e as { code?: number | string }).code;
  const message = (e as Error).message ?? String(e);
  if (code === 2) return errnoError("ENOENT", message, path);
  if (code === 3) return errnoError("EACCES", message, path);
  return errnoError("EIO", message, path);
}

export class SshInput implements Input {
  readonly kind = "ssh";
  private client: Client | null = null;
  private sftp: SFTPWrapper | null = null;
  private lost: FerryError | null = null;
  /** Requests waiting for an answer: a dropped connection fails them at once. */
  private readonly pending = new Set<(e: FerryError) => void>();
  private hostKey: Buffer | null = null;
  private agentDir: string | null = null;
  private agent: ChildProcess | null = null;
  private agentSock: string | null = null;
  readonly timeoutMs: number;

  private constructor(readonly o: SshOptions) {
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  get where(): string {
    return sshUrl(this.o, "/");
  }

  /** Connect, check the host key against known_hosts, authenticate with the key (or the agent), open SFTP. */
  static async connect(o: SshOptions): Promise<SshInput> {
    const input = new SshInput(o);
    await input.open_();
    return input;
  }

  /** The server's host key and fingerprint, without authenticating: for an admin to accept on first contact. */
  static async probeHostKey(o: Pick<SshOptions, "host" | "port" | "timeoutMs">): Promise<{ fingerprint: string; keyLine: string }> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      let got: Buffer | null = null;
      c.on("error", (e) => {
        if (got) resolve({ fingerprint: fingerprint(got), keyLine: `${keyType(got)} ${got.toString("base64")}` });
        else reject(new FerryError({ code: "ssh.connect", message: `cannot connect: ${e.message}`, file: sshUrl({ ...o, user: "" }, "/"), hint: "check the host name, the port and that sshd runs there" }));
      });
      c.connect({
        host: o.host,
        port: o.port,
        username: "ferry-probe",
        readyTimeout: o.timeoutMs ?? 30_000,
        hostVerifier: (key: Buffer) => {
          got = Buffer.from(key);
          return false; // stop here: nothing is authenticated
        },
      });
    });
  }

  private open_(): Promise<void> {
    const o = this.o;
    const url = this.where;
    let known: string;
    try {
      known = readFileSync(o.knownHosts, "utf8");
    } catch (e) {
      return Promise.reject(new FerryError({ code: "ssh.known-hosts", message: `cannot read the known_hosts file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file: o.knownHosts, hint: "give --ssh-known-hosts FILE holding the server's host key (ssh-keyscan, then check its fingerprint)" }));
    }
    let privateKey: Buffer | undefined;
    if (o.identityFile) {
      try {
        privateKey = readFileSync(o.identityFile);
      } catch (e) {
        return Promise.reject(new FerryError({ code: "ssh.identity", message: `cannot read the identity file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file: o.identityFile, hint: "give a readable private key file with --ssh-identity, or load the key into ssh-agent" }));
      }
    }
    const agent = process.env.SSH_AUTH_SOCK;
    if (!privateKey && !agent) {
      return Promise.reject(new FerryError({ code: "ssh.no-key", message: "no key to authenticate with: no identity file and no ssh-agent (SSH_AUTH_SOCK)", file: url, hint: "give --ssh-identity FILE, or start ssh-agent and ssh-add the key" }));
    }
    let verdict: HostKeyVerdict | null = null;
    return new Promise((resolve, reject) => {
      const c = new Client();
      this.client = c;
      let settled = false;
      const fail = (e: FerryError) => {
        if (settled) return;
        settled = true;
        c.end();
        reject(e);
      };
      c.on("error", (e: Error & { level?: string }) => {
        if (verdict && verdict.state !== "known") {
          const changed = verdict.state === "changed";
          fail(new FerryError({
            code: changed ? "ssh.host-key-changed" : "ssh.host-key-unknown",
            message: changed
              ? `the host key changed: the server offered ${verdict.fingerprint}, which is not the key known_hosts lists for it; refusing to connect (someone may be intercepting the connection)`
              : `the host key ${verdict.fingerprint} is not in the known_hosts file; refusing to connect`,
            file: url,
            hint: changed ? `if the server was reinstalled, check the new fingerprint with its admin and replace its line in ${o.knownHosts}` : `check the fingerprint with the server's admin (on ESXi: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it to ${o.knownHosts}`,
          }));
          return;
        }
        if (e.level === "client-authentication") {
          fail(new FerryError({ code: "ssh.auth", message: `the server refused the key${o.identityFile ? ` ${o.identityFile}` : "s in ssh-agent"} for user ${o.user}`, file: url, hint: "add the public key to the user's authorized_keys on the server (on ESXi: /etc/ssh/keys-root/authorized_keys)" }));
          return;
        }
        if (!settled) {
          fail(new FerryError({ code: "ssh.connect", message: `cannot connect: ${e.message}`, file: url, hint: "check the host name, the port and that sshd runs there" }));
        } else {
          this.lost = new FerryError({ code: "ssh.connection-lost", message: `the SSH connection dropped: ${e.message}`, file: url, hint: "check the network and the server, then retry" });
        }
      });
      c.on("close", () => {
        if (!this.lost) this.lost = new FerryError({ code: "ssh.connection-lost", message: "the SSH connection closed", file: url, hint: "check the network and the server, then retry" });
        for (const reject of this.pending) reject(this.lost);
        this.pending.clear();
        if (!settled) fail(this.lost);
      });
      c.on("ready", () => {
        c.sftp((err, sftp) => {
          if (err) return fail(new FerryError({ code: "ssh.sftp", message: `the server offers no SFTP: ${err.message}`, file: url, hint: "enable the sftp subsystem in the server's sshd_config" }));
          this.sftp = sftp;
          settled = true;
          resolve();
        });
      });
      try {
        this.connectClient(c, privateKey, agent, known, (v) => (verdict = v));
      } catch (e) {
        // ssh2 parses the key before connecting: an encrypted or malformed key fails here.
        fail(new FerryError({ code: "ssh.identity", message: `cannot use the identity file: ${(e as Error).message}`, file: o.identityFile ?? url, hint: "a passphrase-protected key must be loaded into ssh-agent instead (ssh-add), without --ssh-identity" }));
      }
    });
  }

  private connectClient(c: Client, privateKey: Buffer | undefined, agent: string | undefined, known: string, onVerdict: (v: HostKeyVerdict) => void): void {
    const o = this.o;
    c.connect({
        host: o.host,
        port: o.port,
        username: o.user,
        privateKey,
        agent: privateKey ? undefined : agent,
        readyTimeout: this.timeoutMs,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => {
          this.hostKey = Buffer.from(key);
          const v = checkHostKey(known, o.host, o.port, this.hostKey);
          onVerdict(v);
          return v.state === "known";
        },
      });
  }

  label(path: string): string {
    return sshUrl(this.o, path);
  }

  private call<T>(path: string, fn: (s: SFTPWrapper, cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
    if (this.lost) return Promise.reject(this.lost);
    const s = this.sftp;
    if (!s) return Promise.reject(new FerryError({ code: "ssh.closed", message: "the SSH input is closed", file: this.label(path), hint: null }));
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(fail);
      };
      const fail = (e: FerryError) => {
        done();
        reject(e);
      };
      const timer = setTimeout(() => fail(new FerryError({ code: "ssh.timeout", message: `the server did not answer within ${this.timeoutMs / 1000} s`, file: this.label(path), hint: "the server or the network is stalled; retry later" })), this.timeoutMs);
      this.pending.add(fail);
      fn(s, (err, v) => {
        done();
        if (err) reject(this.lost ?? sftpErrno(err, path));
        else resolve(v);
      });
    });
  }

  realpath(path: string): Promise<string> {
    return this.call(path, (s, cb) => s.realpath(path, cb));
  }
  async stat(path: string): Promise<FileStat> {
    return statOf(await this.call<SftpStats>(path, (s, cb) => s.stat(path, cb)));
  }
  async lstat(path: string): Promise<FileStat> {
    return statOf(await this.call<SftpStats>(path, (s, cb) => s.lstat(path, cb)));
  }
  async readdir(path: string, max = Infinity): Promise<DirEntry[]> {
    const list = await this.call<{ filename: string; attrs: SftpStats }[]>(path, (s, cb) => s.readdir(path, cb));
    return list
      .filter((e) => e.filename !== "." && e.filename !== ".." && !e.filename.includes("/"))
      .slice(0, max)
      .map((e) => ({ name: e.filename, type: typeOfMode(e.attrs.mode), size: e.attrs.size, mtimeMs: e.attrs.mtime * 1000 }));
  }
  async open(path: string): Promise<OpenFile> {
    // SFTP opens follow symlinks: refuse one here; a FIFO would hang the server's sftp process.
    const before = await this.lstat(path);
    if (before.type === "symlink") throw errnoError("ELOOP", "is a symbolic link", path);
    if (before.type !== "file") return { path, stat: before, read: () => Promise.reject(errnoError("EINVAL", "not a regular file", path)), close: () => Promise.resolve() };
    const handle = await this.call<Buffer>(path, (s, cb) => s.open(path, "r", cb));
    const stat = statOf(await this.call<SftpStats>(path, (s, cb) => s.fstat(handle, cb)));
    const read = async (offset: number, length: number): Promise<Uint8Array> => {
      const want = Math.max(0, Math.min(length, stat.size - offset));
      const buf = Buffer.alloc(want);
      let n = 0;
      while (n < want) {
        const chunk = Math.min(want - n, 64 * 1024);
        const got = await this.call<number>(path, (s, cb) => s.read(handle, buf, n, chunk, offset + n, (err, bytes) => cb(err, bytes)));
        if (!got) break;
        n += got;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, n);
    };
    const close = async () => {
      if (this.lost || !this.sftp) return;
      await this.call<void>(path, (s, cb) => s.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
    };
    return { path, stat, read, close };
  }

  /**
   * A json: name for qemu's ssh driver, pinned to the verified host key
   * (sha256), never parsing a descriptor Ferry did not check: a single
   * sparse file is opened as vmdk with no backing; a flat disk's one extent
   * is opened as raw at its offset and size. Chains and split disks are refused.
   */
  diskSource(d: ValidatedDisk): DiskSource {
    const refuse = (code: string, message: string, hint: string) => new FerryError({ code, message, file: this.label(d.path), hint });
    if (d.chainLength > 1) throw refuse("ssh.snapshot-chain", `is a snapshot (a chain of ${d.chainLength} links): snapshot chains are not read over SSH`, "delete or consolidate the guest's snapshots on ESXi first, or mount the datastore and use a local path");
    if (!this.hostKey) throw refuse("ssh.closed", "the SSH input is not connected", "connect first");
    const file = (path: string) => ({
      driver: "ssh",
      server: { host: this.o.host, port: String(this.o.port) },
      user: this.o.user,
      path,
      "host-key-check": { mode: "hash", type: "sha256", hash: createHash("sha256").update(this.hostKey!).digest("hex") },
    });
    const live = d.extents.filter((e) => e.type !== "ZERO");
    if (live.length === 1 && live[0]!.type === "SPARSE" && live[0]!.path === d.path) {
      return { uri: `json:${JSON.stringify({ driver: "vmdk", backing: null, file: file(d.path) })}`, format: "vmdk" };
    }
    if (d.extents.length === 1 && (live[0]?.type === "FLAT" || live[0]?.type === "VMFS") && live[0].path) {
      const e = live[0];
      return { uri: `json:${JSON.stringify({ driver: "raw", offset: e.offsetSectors * 512, size: e.sectors * 512, file: file(e.path!) })}`, format: "raw" };
    }
    throw refuse("ssh.split-disk", `is a ${d.createType} disk of ${d.extents.length} extents: over SSH Ferry reads single-file sparse disks and single-extent flat disks (vmfs, monolithicFlat)`, "convert it on the host to one file (vmkfstools -i, or qemu-img), or mount the datastore and use a local path");
  }

  /**
   * qemu's ssh driver authenticates through ssh-agent only: with an identity
   * file, a private agent (in the foreground, under --pdeathsig, so it dies
   * with Ferry) holds just that key until the input is closed.
   */
  async qemuEnv(): Promise<Record<string, string>> {
    if (!this.o.identityFile) return process.env.SSH_AUTH_SOCK ? { SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK } : {};
    if (!this.agentSock) {
      const dir = mkdtempSync(join(tmpdir(), "ferry-agent-"));
      this.agentDir = dir;
      const sock = join(dir, "agent.sock");
      const agent = spawn("setpriv", ["--pdeathsig", "KILL", "--", "ssh-agent", "-D", "-a", sock], { stdio: "ignore" });
      this.agent = agent;
      const deadline = Date.now() + 10_000;
      while (!existsSync(sock)) {
        if (agent.exitCode !== null || Date.now() > deadline) throw new FerryError({ code: "ssh.agent", message: "ssh-agent did not start", file: this.where, hint: "install openssh-client (npm run setup does)" });
        await new Promise((r) => setTimeout(r, 20));
      }
      try {
        execFileSync("ssh-add", ["-q", this.o.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: sock, SSH_ASKPASS_REQUIRE: "never", DISPLAY: "" }, stdio: ["ignore", "ignore", "pipe"], timeout: 10_000 });
      } catch (e) {
        throw new FerryError({ code: "ssh.identity", message: `ssh-add refused the identity file: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`, file: this.o.identityFile, hint: "a passphrase-protected key must be loaded into your ssh-agent instead (ssh-add), without --ssh-identity" });
      }
      this.agentSock = sock;
    }
    return { SSH_AUTH_SOCK: this.agentSock };
  }

  close(): Promise<void> {
    this.agent?.kill("SIGTERM");
    this.agent = null;
    if (this.agentDir) rmSync(this.agentDir, { recursive: true, force: true });
    this.agentDir = null;
    this.agentSock = null;
    this.lost ??= new FerryError({ code: "ssh.closed", message: "the SSH input is closed", file: this.where, hint: null });
    this.client?.end();
    this.client = null;
    this.sftp = null;
    return Promise.resolve();
  }
}

/** For a quick check that ssh-agent exists (setup installs openssh-client). */
export function haveSshAgent(): boolean {
  return ["/usr/bin/ssh-agent", "/bin/ssh-agent"].some((p) => existsSync(p));
}

