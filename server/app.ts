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
 * The admin account: its password comes from FERRY_ADMIN_PASSWORD, or is
 * made on first start and printed once in the server log.
 */
function bootstrapAdmin(auth: AuthStore): void {
  const fromEnv = process.env.FERRY_ADMIN_PASSWORD;
  if (fromEnv) {
    auth.setPassword("admin", fromEnv);
  } else if (!auth.hasUser("admin")) {
    const password = generatePassword();
    auth.setPassword("admin", password);
    jsonLog({ msg: `first start: sign in as "admin" with the password ${password} (shown once; set FERRY_ADMIN_PASSWORD to choose it)` });
    // And for the person who just ran `npm start`, in plain words.
    process.stderr.write(`\nFerry, first start: sign in as "admin" with the password\n\n    ${password}\n\nIt is shown only this once. Set FERRY_ADMIN_PASSWORD to choose your own.\n\n`);
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
