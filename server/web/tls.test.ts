import { X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { certificate } from "./tls";

const fresh = () => mkdtempSync(join(tmpdir(), "ferry-tls-"));

describe("the HTTPS certificate", () => {
  it("is made once with openssl, valid for localhost and loopback, key 0600, and reused after", () => {
    const dataDir = fresh();
    const a = certificate({ dataDir, tls: null });
    expect(a).toMatchObject({ generated: true, selfSigned: true, certFile: join(dataDir, "tls", "cert.pem") });
    const x = new X509Certificate(readFileSync(a.certFile));
    expect(a.fingerprint).toBe(x.fingerprint256);
    expect(a.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(x.subjectAltName).toContain("DNS:localhost");
    expect(x.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(x.checkHost("localhost")).toBe("localhost");
    expect(statSync(a.keyFile).mode & 0o777).toBe(0o600);
    const b = certificate({ dataDir, tls: null });
    expect(b).toMatchObject({ generated: false, fingerprint: a.fingerprint, cert: a.cert });
  });

  it("uses the configured pair, and refuses a missing file, a non-PEM file, or a key of another certificate", () => {
    const one = certificate({ dataDir: fresh(), tls: null });
    const two = certificate({ dataDir: fresh(), tls: null });
    expect(certificate({ dataDir: fresh(), tls: { cert: one.certFile, key: one.keyFile } })).toMatchObject({ fingerprint: one.fingerprint, selfSigned: false, generated: false });
    const err = (tls: { cert: string; key: string }) => {
      try {
        certificate({ dataDir: fresh(), tls });
      } catch (e) {
        return e as { code: string; file: string; hint: string };
      }
      throw new Error("accepted");
    };
    expect(err({ cert: one.certFile, key: two.keyFile })).toMatchObject({ code: "tls.mismatch", file: two.keyFile, hint: expect.stringContaining(one.certFile) });
    const junk = join(fresh(), "junk.pem");
    writeFileSync(junk, "not a certificate\n");
    expect(err({ cert: junk, key: one.keyFile })).toMatchObject({ code: "tls.invalid", file: junk });
    expect(err({ cert: one.certFile, key: junk })).toMatchObject({ code: "tls.invalid", file: junk, hint: expect.stringContaining("private key") });
    expect(err({ cert: "/nonexistent/cert.pem", key: one.keyFile })).toMatchObject({ code: "tls.unreadable", file: "/nonexistent/cert.pem", message: "cannot read the certificate: ENOENT" });
  });

  it("says what to do when openssl is missing, and leaves no half-made files", () => {
    const dataDir = fresh();
    const path = process.env.PATH;
    process.env.PATH = fresh();
    try {
      expect(() => certificate({ dataDir, tls: null })).toThrow(expect.objectContaining({ code: "tls.generate", message: "could not make a self-signed certificate: openssl is not installed", hint: expect.stringContaining("tls.cert") }));
    } finally {
      process.env.PATH = path;
    }
    expect(readdirSync(join(dataDir, "tls"))).toEqual([]);
  });
});
