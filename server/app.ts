import { join } from "node:path";
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
    f = { config, store, worker };
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
