import { join } from "node:path";
import { SqliteAuthStore } from "../auth/sqlite-auth-store";
import { PgAuthStore } from "../auth/pg-auth-store";
import type { AuthStore } from "../auth/auth-store";
import { openPg } from "../db/pg";
import { FerryError } from "../errors";
import { PgJobStore } from "./pg-store";
import { SqliteJobStore } from "./sqlite-store";
import type { JobStore } from "./store";

export interface Stores {
  store: JobStore;
  auth: AuthStore;
  /** "sqlite" or "postgresql", for the log and the Hosts page. */
  kind: "sqlite" | "postgresql";
}

/**
 * The one place a store is chosen: PostgreSQL when a database URL is
 * configured (several conversion hosts share it), else SQLite in the data
 * folder (one host). Jobs, accounts and the audit log always live together.
 */
export function openStores(config: { dataDir: string; databaseUrl: string | null }): Stores {
  if (config.databaseUrl) {
    if (!/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
      throw new FerryError({ code: "config.invalid", message: "the database URL must start with postgresql://", file: null, hint: "set FERRY_DATABASE_URL to e.g. postgresql://ferry@db.example/ferry, or unset it to use SQLite on one host" });
    }
    const db = openPg(config.databaseUrl);
    return { store: new PgJobStore(db), auth: new PgAuthStore(db), kind: "postgresql" };
  }
  const file = join(config.dataDir, "ferry.db");
  return { store: new SqliteJobStore(file), auth: new SqliteAuthStore(file), kind: "sqlite" };
}
