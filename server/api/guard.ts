/**
 * Checks every API request before tRPC sees it. A browser on another site
 * can post a form (text/plain, urlencoded, multipart) or open an
 * EventSource to this server; only same-origin JSON is accepted.
 */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

function refuse(status: number, message: string): Response {
  return new Response(JSON.stringify({ error: { message, code: status === 413 ? "PAYLOAD_TOO_LARGE" : "FORBIDDEN" } }), { status, headers: { "content-type": "application/json" } });
}

export function guardRequest(req: Request): Response | null {
  const origin = req.headers.get("origin");
  if (origin !== null) {
    let host: string | null = null;
    try {
      host = new URL(origin).host;
    } catch {
      return refuse(403, "malformed Origin header");
    }
    if (host !== req.headers.get("host")) return refuse(403, `requests from ${origin} are not accepted`);
  }
  if (req.method === "POST") {
    const type = (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") return refuse(403, "API calls must send application/json");
    const length = req.headers.get("content-length");
    if (length === null) return refuse(411 as number, "a Content-Length is required");
    if (!/^\d+$/.test(length) || Number(length) > MAX_BODY_BYTES) return refuse(413, `request body over ${MAX_BODY_BYTES} bytes`);
  }
  return null;
}
