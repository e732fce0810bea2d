import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { FerryError } from "../errors";
import { checkHostKey, knownHostsLine, SshInput, sshUrl } from "../input/ssh";
import type { Share } from "./config";

/**
 * First contact with an ssh share: the server's host key is shown to an
 * admin, who accepts its fingerprint; only then is it stored in the share's
 * known_hosts. A changed key is never replaced from the wizard.
 */

export const HostKeyStatus = z.object({
  state: z.enum(["local", "known", "unknown", "changed"]),
  fingerprint: z.string().nullable(),
  knownHosts: z.string().nullable(),
});
export type HostKeyStatus = z.infer<typeof HostKeyStatus>;

async function offered(share: Share): Promise<{ state: "known" | "unknown" | "changed"; fingerprint: string; keyLine: string }> {
  const s = share.ssh!;
  const key = await SshInput.probeHostKey({ host: s.host, port: s.port, timeoutMs: 15_000 });
  const known = existsSync(s.knownHosts) ? readFileSync(s.knownHosts, "utf8") : "";
  const blob = Buffer.from(key.keyLine.split(" ")[1]!, "base64");
  return { state: checkHostKey(known, s.host, s.port, blob).state, ...key };
}

export async function hostKeyStatus(share: Share): Promise<HostKeyStatus> {
  if (!share.ssh) return { state: "local", fingerprint: null, knownHosts: null };
  const k = await offered(share);
  return { state: k.state, fingerprint: k.fingerprint, knownHosts: share.ssh.knownHosts };
}

export async function acceptHostKey(share: Share, fingerprint: string): Promise<HostKeyStatus> {
  const s = share.ssh!;
  const k = await offered(share);
  const where = sshUrl(s, "/");
  if (k.fingerprint !== fingerprint) {
    throw new FerryError({ code: "ssh.host-key-mismatch", message: `the server now offers ${k.fingerprint}, not the ${fingerprint} that was accepted; nothing was stored`, file: where, hint: "someone may be intercepting the connection; check the fingerprint with the server's admin" });
  }
  if (k.state === "changed") {
    throw new FerryError({ code: "ssh.host-key-changed", message: `known_hosts lists another key for this server; the offered ${k.fingerprint} was not stored`, file: s.knownHosts, hint: "if the server was reinstalled, remove its old line from the known_hosts file by hand, then accept the new key" });
  }
  if (k.state === "unknown") appendFileSync(s.knownHosts, knownHostsLine(s.host, s.port, k.keyLine), { mode: 0o600 });
  return { state: "known", fingerprint: k.fingerprint, knownHosts: s.knownHosts };
}
