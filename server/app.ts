import { join } from "node:path";
import { AuthStore, generatePassword } from "./auth";
import { SqliteJobStore, Worker, type JobStore } from "./jobs";
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
}

/**
 * The first admin: `admin` with FERRY_ADMIN_PASSWORD when set (applied at
 * every start), else, while no admin account exists, a password made now
 * and printed once in the server log, beside the HTTPS certificate's
 * fingerprint when the HTTPS server made one known (server/web/).
 */
function bootstrapAdmin(auth: AuthStore): void {
  const fromEnv = process.env.FERRY_ADMIN_PASSWORD;
  if (fromEnv) {
    auth.ensureAdmin("admin", fromEnv);
  } else if (auth.admins() === 0) {
    const password = generatePassword();
    auth.ensureAdmin("admin", password);
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

export function ferry(): Ferry {
  let f = g[KEY];
  if (!f) {
    const config = loadConfig();
    const store = new SqliteJobStore(join(config.dataDir, "ferry.db"));
    const worker = new Worker({ store, config, log: jsonLog });
    const auth = new AuthStore(join(config.dataDir, "ferry.db"));
    bootstrapAdmin(auth);
    f = { config, store, worker, auth };
    g[KEY] = f;
  }
  return f;
}

let started = false;
/** Start the worker with the web server, unless FERRY_NO_WORKER is set (a separate `ferry worker` runs them). */
export function startWorker(): void {
  if (started || process.env.FERRY_NO_WORKER === "1") return;
  started = true;
  ferry().worker.start();
}
