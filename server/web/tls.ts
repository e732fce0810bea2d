import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FerryError } from "../errors";
import type { FerryConfig } from "../shares";

/**
 * The HTTPS certificate: the configured one (`tls: {cert, key}`), or a
 * self-signed one made at first start with Debian's openssl and kept in
 * DATA_DIR/tls, so its fingerprint, which the admin checks once in the
 * browser, stays the same across restarts.
 */
export interface Certificate {
  cert: string;
  key: string;
  /** SHA-256 of the certificate, `AB:CD:...`, as browsers show it. */
  fingerprint: string;
  certFile: string;
  keyFile: string;
  /** Made now (first start). */
  generated: boolean;
  selfSigned: boolean;
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new FerryError({ code: "tls.unreadable", message: `cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file, hint: "check the path and permissions of tls.cert and tls.key in the configuration" });
  }
}

/** Checks a PEM pair: a certificate, a key, and the key is the certificate's. */
export function checkPair(cert: string, key: string, certFile: string, keyFile: string): string {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new FerryError({ code: "tls.invalid", message: `not a PEM certificate: ${(e as Error).message}`, file: certFile, hint: "give the certificate (-----BEGIN CERTIFICATE-----) in tls.cert" });
  }
  let ok = false;
  try {
    ok = x509.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new FerryError({ code: "tls.invalid", message: `not a PEM private key: ${(e as Error).message}`, file: keyFile, hint: "give the unencrypted private key (-----BEGIN PRIVATE KEY-----) in tls.key" });
  }
  if (!ok) throw new FerryError({ code: "tls.mismatch", message: "the private key does not belong to the certificate", file: keyFile, hint: `tls.key must be the key of ${certFile}` });
  return x509.fingerprint256;
}

/** A self-signed certificate for this host: EC P-256, ten years, valid for localhost, the host name and loopback. */
function makeSelfSigned(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmpCert = join(dir, `.cert.${process.pid}.pem`);
  const tmpKey = join(dir, `.key.${process.pid}.pem`);
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, "") || "localhost";
  const names = [...new Set(["localhost", host])].map((n) => `DNS:${n}`).concat(["IP:127.0.0.1", "IP:::1"]);
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650", "-subj", `/CN=${host}/O=Ferry self-signed`, "-addext", `subjectAltName=${names.join(",")}`, "-keyout", tmpKey, "-out", tmpCert], { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
    chmodSync(tmpKey, 0o600);
    // The key first: a certificate file without its key would be a half-made pair.
    renameSync(tmpKey, join(dir, "key.pem"));
    renameSync(tmpCert, join(dir, "cert.pem"));
  } catch (e) {
    rmSync(tmpCert, { force: true });
    rmSync(tmpKey, { force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    throw new FerryError({ code: "tls.generate", message: `could not make a self-signed certificate: ${err.code === "ENOENT" ? "openssl is not installed" : (err.stderr?.toString().trim() || err.message)}`, file: dir, hint: "install openssl (scripts/setup.sh does), or set tls.cert and tls.key in the configuration" });
  }
}

export function certificate(config: Pick<FerryConfig, "tls" | "dataDir">): Certificate {
  if (config.tls) {
    const cert = read(config.tls.cert, "certificate");
    const key = read(config.tls.key, "private key");
    return { cert, key, fingerprint: checkPair(cert, key, config.tls.cert, config.tls.key), certFile: config.tls.cert, keyFile: config.tls.key, generated: false, selfSigned: false };
  }
  const dir = join(config.dataDir, "tls");
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const generated = !existsSync(certFile);
  if (generated) makeSelfSigned(dir);
  const cert = read(certFile, "certificate");
  const key = read(keyFile, "private key");
  return { cert, key, fingerprint: checkPair(cert, key, certFile, keyFile), certFile, keyFile, generated, selfSigned: true };
}
