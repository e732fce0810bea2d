import { AsyncLocalStorage } from "node:async_hooks";
import { BlockList, isIP } from "node:net";
import { z } from "zod";

/**
 * Who is asking: the socket's peer, unless that peer is a configured trusted
 * proxy, and only then the `X-Forwarded-For` / `X-Forwarded-Proto` it added.
 * A client can write any header it likes; only a proxy we trust can vouch.
 */

/** `10.0.0.1`, `fd00::1`, `10.0.0.0/8`, `fd00::/8`. */
export const TrustedProxy = z.string().max(64).refine((s) => {
  const [ip, bits, ...rest] = s.split("/");
  const v = isIP(ip ?? "");
  if (!v || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (v === 4 ? 32 : 128);
}, "an IP address or CIDR block (10.0.0.1, 10.0.0.0/8, fd00::/8)");

/** `::ffff:127.0.0.1` is 127.0.0.1; anything that is not an IP address is null. */
export function normalizeAddress(s: string | null | undefined): string | null {
  if (!s) return null;
  let a = s.trim();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a)) a = a.slice(7);
  return isIP(a) ? a.toLowerCase() : null;
}

export function trustList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const [ip, bits] = e.split("/");
    const type = isIP(ip!) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(ip!, type);
    else list.addSubnet(ip!, Number(bits), type);
  }
  return list;
}

function trusted(list: BlockList, address: string): boolean {
  return list.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
}

export interface Peer {
  /** The socket's remote address. */
  address: string | null;
  /** Whether the socket is TLS. */
  tls: boolean;
}

export interface Client {
  /** The client's address as far as we can tell, or null when unknown. */
  address: string | null;
  /** Whether the client's connection is HTTPS (ours, or a trusted proxy's). */
  secure: boolean;
}

/**
 * The client behind a request. Walks `X-Forwarded-For` from the right only
 * while each hop is a trusted proxy: the first untrusted hop is the client.
 * A malformed hop stops the walk at the proxy that passed it on.
 */
export function clientOf(peer: Peer | null, header: (name: string) => string | null, trust: BlockList): Client {
  const direct = normalizeAddress(peer?.address);
  if (!peer || !direct || !trusted(trust, direct)) return { address: direct, secure: peer?.tls ?? false };
  let address = direct;
  const hops = (header("x-forwarded-for") ?? "").slice(0, 4096).split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]);
    if (!hop) break;
    address = hop;
    if (!trusted(trust, hop)) break;
  }
  const proto = (header("x-forwarded-proto") ?? "").split(",").pop()?.trim().toLowerCase();
  return { address, secure: proto === "https" || (proto === undefined || proto === "" ? peer.tls : false) };
}

/**
 * Next.js hands route handlers a fetch `Request`, which has no socket. The
 * HTTPS server (server/web/serve.ts) runs each request inside this store
 * with the socket's peer; globalThis, because the server and Next's bundle
 * each have their own copy of this module.
 */
const PEER = Symbol.for("ferry.peer");
const g = globalThis as unknown as Record<symbol, AsyncLocalStorage<Peer> | undefined>;
export function peerStorage(): AsyncLocalStorage<Peer> {
  return (g[PEER] ??= new AsyncLocalStorage<Peer>());
}
