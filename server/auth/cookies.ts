/**
 * The session cookie, read from an untrusted `Cookie` header. Nothing is
 * decoded: a session token is 43 base64url characters, and any other value
 * (bad percent-encoding, another app's cookie of the same name, a huge one)
 * is not a session. The header is someone else's too (every app on this
 * host name shares it), so nothing in it may make a request fail.
 */
export const SESSION_COOKIE = "ferry_session";

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** Tokens tried per request: a browser may send the same name from several paths or a parent domain. */
const MAX_CANDIDATES = 4;
/** Node refuses headers over 16 KiB; beyond this the rest is not read. */
const MAX_HEADER = 16 * 1024;

export function sessionTokens(header: string | null | undefined): string[] {
  if (typeof header !== "string") return [];
  const out: string[] = [];
  for (const part of header.slice(0, MAX_HEADER).split(";")) {
    const i = part.indexOf("=");
    if (i < 0 || part.slice(0, i).trim() !== SESSION_COOKIE) continue;
    let value = part.slice(i + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (TOKEN.test(value) && !out.includes(value)) out.push(value);
    if (out.length >= MAX_CANDIDATES) break;
  }
  return out;
}
