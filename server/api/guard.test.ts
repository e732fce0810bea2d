import { describe, expect, it } from "vitest";
import { guardRequest, MAX_BODY_BYTES } from "./guard";

const req = (method: string, headers: Record<string, string>) => new Request("http://ferry.lan:3000/api/trpc/jobs.create", { method, headers: { host: "ferry.lan:3000", ...headers }, body: method === "POST" ? "{}" : undefined });

describe("guardRequest", () => {
  it("lets same-origin JSON through, and clients that send no Origin (the CLI, scripts)", () => {
    expect(guardRequest(req("POST", { "content-type": "application/json", origin: "http://ferry.lan:3000", "content-length": "2" }))).toBeNull();
    expect(guardRequest(req("POST", { "content-type": "application/json; charset=utf-8", "content-length": "2" }))).toBeNull();
    expect(guardRequest(req("GET", {}))).toBeNull();
  });

  it.each([
    ["a cross-site form post", "POST", { "content-type": "application/x-www-form-urlencoded", origin: "http://evil.example", "content-length": "2" }, 403],
    ["a text/plain post from the same origin", "POST", { "content-type": "text/plain", origin: "http://ferry.lan:3000", "content-length": "2" }, 403],
    ["a multipart post", "POST", { "content-type": "multipart/form-data; boundary=x", "content-length": "2" }, 403],
    ["JSON from another site", "POST", { "content-type": "application/json", origin: "http://evil.example", "content-length": "2" }, 403],
    ["an EventSource from another site", "GET", { origin: "https://evil.example" }, 403],
    ["a malformed Origin", "GET", { origin: "not a url" }, 403],
    ["an oversized body", "POST", { "content-type": "application/json", "content-length": String(MAX_BODY_BYTES + 1) }, 413],
    ["a body of unknown length", "POST", { "content-type": "application/json" }, 411],
  ])("refuses %s", async (_, method, headers, status) => {
    const r = guardRequest(req(method as string, headers as Record<string, string>));
    expect(r?.status).toBe(status);
    expect((await r!.json()).error.message).toBeTruthy();
  });
});
