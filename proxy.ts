import { NextResponse, type NextRequest } from "next/server";
import { sessionTokens } from "./server/auth/cookies";

/**
 * Pages: signed-out visitors go to sign-in; every page gets a Content
 * Security Policy with a fresh nonce: Next.js puts the nonce on its own
 * scripts, and no other inline script runs.
 */
export function proxy(request: NextRequest) {
  // No well-formed session cookie: straight to sign-in (the API checks sessions itself; this only spares a detour).
  // The raw header, never a parser that decodes: another app's cookie may be any bytes.
  if (sessionTokens(request.headers.get("cookie")).length === 0 && request.nextUrl.pathname !== "/login") {
    const login = request.nextUrl.clone();
    login.pathname = "/login";
    login.search = `?next=${encodeURIComponent(request.nextUrl.pathname + request.nextUrl.search)}`;
    return NextResponse.redirect(login);
  }
  const nonce = Buffer.from(crypto.randomUUID()).toString("base64");
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${process.env.NODE_ENV === "development" ? " 'unsafe-eval'" : ""}`,
    // React sets style attributes (progress bar widths); styles cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
  const headers = new Headers(request.headers);
  headers.set("x-nonce", nonce);
  headers.set("Content-Security-Policy", csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("Content-Security-Policy", csp);
  return response;
}

export const config = {
  matcher: [{ source: "/((?!api|_next/static|_next/image|favicon.ico).*)", missing: [{ type: "header", key: "next-router-prefetch" }, { type: "header", key: "purpose", value: "prefetch" }] }],
};
