/**
 * `npm start`'s server itself (server/web/serve.ts over the production
 * build, as scripts/test.sh builds it): HTTPS by default with a certificate
 * made at first start and kept, its fingerprint printed beside the admin
 * password; the real client address and TLS reach the API through Next.js.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect } from "node:tls";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const repo = resolve(__dirname, "../..");
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(join(repo, ".next", "BUILD_ID"))) throw new Error("no production build: run `npx next build` first (npm test does)");
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill("SIGTERM");
      await new Promise((r) => c.once("exit", r));
    }
  }
});

interface Started {
  child: ChildProcess;
  port: number;
  stdout: string;
  stderr: string;
}

/** Starts the server on a free port; resolves once it says where it serves, or with its output if it exits. */
function start(dataDir: string, env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(join(repo, "node_modules/.bin/tsx"), [join(repo, "server/web/serve.ts")], {
    cwd: repo,
    env: { ...process.env, FERRY_DATA_DIR: dataDir, FERRY_CONFIG: "", FERRY_ADMIN_PASSWORD: "", FERRY_NO_WORKER: "1", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const s: Started = { child, port: 0, stdout: "", stderr: "" };
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no "serving" line in 90 s:\n${s.stdout}\n${s.stderr}`)), 90_000);
    child.stdout!.on("data", (d: Buffer) => {
      s.stdout += d.toString();
      const m = /"msg":"serving https?:\/\/[^"]+","url":"[^"]+","port":(\d+)/.exec(s.stdout);
      if (m && !s.port) {
        s.port = Number(m[1]);
        clearTimeout(timer);
        done(s);
      }
    });
    child.stderr!.on("data", (d: Buffer) => (s.stderr += d.toString()));
    child.once("exit", () => {
      clearTimeout(timer);
      done(s);
    });
  });
}

/** The certificate the server presents, as a TLS client sees it. */
function peerFingerprint(port: number): Promise<string> {
  return new Promise((done, fail) => {
    const sock = connect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false }, () => {
      done(sock.getPeerX509Certificate()!.fingerprint256);
      sock.end();
    });
    sock.once("error", fail);
  });
}

function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; ca?: string; plain?: boolean } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((done, fail) => {
    const req = (opts.plain ? httpRequest : httpsRequest)(
      { host: "127.0.0.1", port, path, method: opts.method ?? "GET", headers: { ...(opts.body ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers }, ...(opts.plain ? {} : opts.ca ? { ca: opts.ca, servername: "localhost" } : { rejectUnauthorized: false }) },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => done({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.once("error", fail);
    req.end(opts.body);
  });
}

const login = (port: number, user: string, password: string, headers: Record<string, string> = {}, plain = false) =>
  call(port, "/api/trpc/auth.login", { method: "POST", body: JSON.stringify({ user, password }), headers, plain });

describe("npm start's server", () => {
  it("serves HTTPS on a fresh machine, prints the fingerprint beside the password, and keeps the certificate across restarts", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ferry-https-"));
    const first = await start(dataDir);
    expect(first.port, first.stderr).toBeGreaterThan(0);
    const certFile = join(dataDir, "tls", "cert.pem");
    const x509 = new X509Certificate(readFileSync(certFile));
    expect(statSync(join(dataDir, "tls", "key.pem")).mode & 0o777).toBe(0o600);
    // Printed beside the password, in plain words and in the JSON log.
    const password = /sign in as "admin" with the password\n\n {4}(\S+)\n/.exec(first.stderr)![1]!;
    expect(first.stderr).toContain(`accept it only if its SHA-256 fingerprint is\n\n    ${x509.fingerprint256}\n`);
    expect(first.stdout).toContain(`"certificateSha256":"${x509.fingerprint256}"`);
    // What a client sees is that certificate, and it verifies for localhost against itself.
    expect(await peerFingerprint(first.port)).toBe(x509.fingerprint256);
    const page = await call(first.port, "/login", { ca: readFileSync(certFile, "utf8") });
    expect(page.status).toBe(200);
    // Over TLS: the session cookie is Secure, HttpOnly, SameSite=Strict.
    const ok = await login(first.port, "admin", password);
    expect(ok.status, ok.body).toBe(200);
    expect(String(ok.headers["set-cookie"])).toMatch(/^ferry_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
    first.child.kill("SIGTERM");
    await new Promise((r) => first.child.once("exit", r));

    // Restart: the same certificate, no new password.
    const again = await start(dataDir);
    expect(await peerFingerprint(again.port)).toBe(x509.fingerprint256);
    expect(again.stderr).not.toContain("first start");
    expect(again.stderr).toContain(`Certificate SHA-256 fingerprint: ${x509.fingerprint256}`);
    expect((await login(again.port, "admin", password)).status).toBe(200);
  }, 240_000);

  it("through Next.js too: invented X-Forwarded-For is ignored, the limiter holds, malformed cookies are 'sign in first'", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ferry-https-"));
    const s = await start(dataDir, { FERRY_ADMIN_PASSWORD: "the right password" });
    for (let i = 0; i < 6; i++) {
      const r = await login(s.port, "admin", `guess ${i}`, { "x-forwarded-for": `198.51.100.${i}`, "x-forwarded-proto": "http" });
      expect(r.status, r.body).toBe(i < 5 ? 401 : 429);
    }
    const right = await login(s.port, "admin", "the right password", { "x-forwarded-for": "198.51.100.77" });
    expect(right.status).toBe(429);
    expect(JSON.parse(right.body).error.message).toMatch(/^too many sign-in attempts; try again in \d+ s$/);
    for (const cookie of ["ferry_session=%E0%A4%A", `ferry_session=${"z".repeat(9000)}; x=%`, "ferry_session=a; ferry_session=b; other=%zz"]) {
      const api = await call(s.port, "/api/trpc/jobs.list", { headers: { cookie } });
      expect(api.status, cookie.slice(0, 40)).toBe(401);
      expect(JSON.parse(api.body).error.message).toBe("sign in first");
      const page = await call(s.port, "/jobs", { headers: { cookie } });
      expect(page.status).toBe(307);
      expect(page.headers.location).toBe("/login?next=%2Fjobs");
    }
    // Another user, the same address, a malformed cookie present: signs in; the audit log has the socket's address.
    const db = (await import("better-sqlite3")).default;
    const store = new (await import("../../server/auth")).SqliteAuthStore(join(dataDir, "ferry.db"));
    await store.addUser("olga", "operator", "olga's password");
    const olga = await login(s.port, "olga", "olga's password", { cookie: "ferry_session=%E0%A4%A; theme=%zz", "x-forwarded-for": "10.9.9.9" });
    expect(olga.status, olga.body).toBe(200);
    const rows = new db(join(dataDir, "ferry.db"), { readonly: true }).prepare("SELECT DISTINCT address FROM audit").all();
    expect(rows).toEqual([{ address: "127.0.0.1" }]);
    await store.close();
  }, 240_000);

  it("plain HTTP only when asked, with a cookie that is not Secure; a bad certificate stops the start with the file at fault", async () => {
    const plain = await start(mkdtempSync(join(tmpdir(), "ferry-http-")), { FERRY_PLAIN_HTTP: "1", FERRY_ADMIN_PASSWORD: "plain password" });
    const r = await login(plain.port, "admin", "plain password", {}, true);
    expect(r.status).toBe(200);
    expect(String(r.headers["set-cookie"])).not.toContain("Secure");
    expect(plain.stderr).toContain("plain HTTP: put it behind a TLS proxy");

    const dataDir = mkdtempSync(join(tmpdir(), "ferry-badtls-"));
    writeFileSync(join(dataDir, "ferry.json"), JSON.stringify({ tls: { cert: "nope.pem", key: "nope.key" } }));
    const bad = await start(dataDir);
    expect(bad.child.exitCode).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^ferry: error: ${join(dataDir, "nope.pem")}: cannot read the certificate: ENOENT\nferry: hint: `, "m"));
  }, 240_000);
});
