import { generatePassword, type AuthStore } from "./auth";
import { openStores, Worker, type JobStore } from "./jobs";
import { loadConfig, type FerryConfig } from "./shares";

/**
 * The server's long-lived parts, made once per process: configuration, the
 * job store and the worker. Kept on globalThis so Next.js module reloads
 * share them.
 */
export interface Ferry {
  config: FerryConfig;
  store: JobStore;
  worker: Worker;
  auth: AuthStore;
  /** sqlite (one host) or postgresql (several). */
  storeKind: "sqlite" | "postgresql";
  /** Resolves once the first admin exists (the store is reachable and its schema current). */
  ready: Promise<void>;
}

/**
 * The first admin: `admin` with FERRY_ADMIN_PASSWORD when set (applied at
 * every start), else, while no admin account exists, a password made now
 * and printed once in the server log, beside the HTTPS certificate's
 * fingerprint when the HTTPS server made one known (server/web/).
 */
async function bootstrapAdmin(auth: AuthStore): Promise<void> {
  const fromEnv = process.env.FERRY_ADMIN_PASSWORD;
  if (fromEnv) {
    await auth.ensureAdmin("admin", fromEnv);
  } else if ((await auth.admins()) === 0) {
    const password = generatePassword();
    await auth.ensureAdmin("admin", password);
    const fingerprint = (globalThis as unknown as Record<symbol, string | undefined>)[Symbol.for("ferry.tls.fingerprint")];
    jsonLog({ msg: `first start: sign in as "admin" with the password ${password} (shown once; set FERRY_ADMIN_PASSWORD to choose it)`, ...(fingerprint ? { certificateSha256: fingerprint } : {}) });
    // And for the person who just ran `npm start`, in plain words.
    process.stderr.write(
      `\nFerry, first start: sign in as "admin" with the password\n\n    ${password}\n\nIt is shown only this once. Set FERRY_ADMIN_PASSWORD to choose your own.\n` +
        (fingerprint ? `Your browser will warn about the self-signed certificate; accept it only if its SHA-256 fingerprint is\n\n    ${fingerprint}\n` : "") +
        "\n",
    );
  }
}

const KEY = Symbol.for("ferry.app");
const g = globalThis as unknown as Record<symbol, Ferry | undefined>;

/** One JSON line per event, with the job id (the server's structured log). */
export function jsonLog(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...line }) + "\n");
}

/**
 * The process's parts. `host` names this conversion host (ferry worker
 * --host); FERRY_HOST sets it for the web server's own worker.
 */
export function ferry(opts: { host?: string; bootstrap?: boolean } = {}): Ferry {
  let f = g[KEY];
  if (!f) {
    const config = loadConfig();
    const { store, auth, kind } = openStores(config);
    const worker = new Worker({ store, config, log: jsonLog, host: opts.host ?? (process.env.FERRY_HOST || undefined) });
    // A worker host does not make accounts: the web server does.
    const ready = opts.bootstrap === false ? Promise.resolve() : bootstrapAdmin(auth);
    ready.catch((e: Error) => jsonLog({ msg: "store not ready", error: e.message }));
    f = { config, store, worker, auth, storeKind: kind, ready };
    g[KEY] = f;
  }
  return f;
}

let started = false;
/** Start the worker with the web server, unless FERRY_NO_WORKER is set (a separate `ferry worker` runs them). */
export function startWorker(): void {
  if (started) return;
  started = true;
  const f = ferry();
  if (process.env.FERRY_NO_WORKER !== "1") {
    f.worker.start();
    return;
  }
  // No worker here, but this process still notices hosts that stopped heartbeating.
  setInterval(() => void f.worker.reap().catch(() => undefined), Math.max(1000, (f.config.leaseSeconds * 1000) / 4)).unref();
}
