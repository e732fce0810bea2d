import Database from "better-sqlite3";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { hashPassword, verifyPassword } from "./password";

/** Users, sessions and the audit log, in the same SQLite file as the jobs. */

export const SESSION_MS = 12 * 60 * 60 * 1000;

export const AuditEntry = z.object({
  id: z.number().int(),
  at: z.number(),
  user: z.string().nullable(),
  address: z.string().nullable(),
  action: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export interface Session {
  id: string;
  user: string;
  expiresAt: number;
}

const tokenId = (token: string) => createHash("sha256").update(token).digest("hex");

export class AuthStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, user TEXT, address TEXT, action TEXT NOT NULL, detail TEXT NOT NULL);
    `);
  }

  hasUser(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM users WHERE name = ?").get(name) !== undefined;
  }

  setPassword(name: string, password: string): void {
    this.db.prepare("INSERT INTO users (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET hash = excluded.hash").run(name, hashPassword(password), Date.now());
  }

  checkPassword(name: string, password: string): boolean {
    const row = this.db.prepare("SELECT hash FROM users WHERE name = ?").get(name) as { hash: string } | undefined;
    // Hash anyway for unknown users, so timing does not tell which names exist.
    return verifyPassword(password, row?.hash ?? hashPassword("not a user")) && row !== undefined;
  }

  /** A new session; only the token's hash is stored. */
  createSession(user: string): { token: string; session: Session } {
    const token = randomBytes(32).toString("base64url");
    const session = { id: tokenId(token), user, expiresAt: Date.now() + SESSION_MS };
    this.db.prepare("INSERT INTO sessions (id, user, created_at, expires_at) VALUES (?, ?, ?, ?)").run(session.id, user, Date.now(), session.expiresAt);
    return { token, session };
  }

  session(token: string | null | undefined): Session | null {
    return token ? this.sessionById(tokenId(token)) : null;
  }

  sessionById(id: string): Session | null {
    const row = this.db.prepare("SELECT id, user, expires_at FROM sessions WHERE id = ?").get(id) as { id: string; user: string; expires_at: number } | undefined;
    return row && row.expires_at >= Date.now() ? { id: row.id, user: row.user, expiresAt: row.expires_at } : null;
  }

  /** Logout ends every session of the user, on every device. */
  endSessions(user: string): number {
    return this.db.prepare("DELETE FROM sessions WHERE user = ?").run(user).changes;
  }

  audit(entry: { user: string | null; address: string | null; action: string; detail?: Record<string, unknown> }): void {
    this.db.prepare("INSERT INTO audit (at, user, address, action, detail) VALUES (?, ?, ?, ?, ?)").run(Date.now(), entry.user, entry.address, entry.action, JSON.stringify(entry.detail ?? {}));
  }

  auditLog(limit = 500): AuditEntry[] {
    return (this.db.prepare("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit) as { id: number; at: number; user: string | null; address: string | null; action: string; detail: string }[]).map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  close(): void {
    this.db.close();
  }
}
