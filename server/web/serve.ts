/**
 * `npm start`: Ferry's web server. HTTPS by default (the configured
 * certificate, or a self-signed one made at first start), plain HTTP only
 * when asked (FERRY_PLAIN_HTTP=1 or `"plainHttp": true`, behind a TLS
 * proxy). A small node:https server in front of Next.js's request handler,
 * rather than `next start --experimental-https`, because it is the only
 * place that sees the socket: the client's real address (the sign-in
 * limiter and the audit log) and whether the connection is TLS (Secure
 * cookies) reach the API through peerStorage(), never through a header a
 * client could write.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import next from "next";
import { peerStorage } from "../auth";
import { FerryError } from "../errors";
import { loadConfig } from "../shares";
import { certificate } from "./tls";

const root = fileURLToPath(new URL("../..", import.meta.url));

function say(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...line }) + "\n");
}

async function main(): Promise<void> {
  const config = loadConfig();
  const port = Number(process.env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FerryError({ code: "config.invalid", message: `PORT=${process.env.PORT} is not a port number`, file: null, hint: "unset PORT or give 0 to 65535" });
  const host = process.env.HOST || undefined;
  const tls = config.plainHttp ? null : certificate(config);
  if (tls) {
    // The first start's password message prints it beside the password (server/app.ts).
    (globalThis as unknown as Record<symbol, string>)[Symbol.for("ferry.tls.fingerprint")] = tls.fingerprint;
    if (tls.generated) say({ msg: "made a self-signed certificate", certFile: tls.certFile, certificateSha256: tls.fingerprint });
  }
  const { ferry } = await import("../app");
  const f = ferry();

  const app = next({ dev: false, dir: root, hostname: host, port });
  await app.prepare();
  const handle = app.getRequestHandler();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    peerStorage().run({ address: req.socket.remoteAddress ?? null, tls: tls !== null }, () => {
      handle(req, res).catch((e: unknown) => {
        say({ msg: "request failed", error: (e as Error).message });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error");
      });
    });
  };
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, onRequest) : createHttpServer(onRequest);
  // Slow-header clients cannot hold sockets forever.
  server.headersTimeout = 20_000;
  server.requestTimeout = 0; // SSE streams are long-lived
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => done());
  });
  const a = server.address() as AddressInfo;
  const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
  const url = `${tls ? "https" : "http"}://${shown === "[::]" || shown === "0.0.0.0" ? "localhost" : shown}:${a.port}`;
  say({ msg: `serving ${url}`, url, port: a.port, tls: tls !== null, ...(tls ? { certificateSha256: tls.fingerprint, selfSigned: tls.selfSigned } : {}) });
  process.stderr.write(tls ? `Ferry is serving ${url}\nCertificate SHA-256 fingerprint: ${tls.fingerprint}${tls.selfSigned ? " (self-signed: check it once in your browser)" : ""}\n` : `Ferry is serving ${url} (plain HTTP: put it behind a TLS proxy)\n`);
  // Jobs running here are cancelled cleanly (the next start would mark them interrupted anyway).
  const stop = () => {
    setTimeout(() => process.exit(0), 10_000).unref();
    server.close();
    void f.worker.stop(true).finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((e: unknown) => {
  if (e instanceof FerryError) process.stderr.write(`ferry: error: ${e.describe()}\n${e.hint ? `ferry: hint: ${e.hint}\n` : ""}`);
  else process.stderr.write(`ferry: error: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
