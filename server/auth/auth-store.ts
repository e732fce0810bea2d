import Database from "better-sqlite3";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { FerryError } from "../errors";
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

/** What an account may do; each role includes the ones before it. */
export const Role = z.enum(["viewer", "operator", "admin"]);
export type Role = z.infer<typeof Role>;
export const roleAtLeast = (role: Role, needed: Role): boolean => Role.options.indexOf(role) >= Role.options.indexOf(needed);

/** Account names: what a sysadmin types, and nothing a log or a shell would misread. */
export const UserName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");

export const User = z.object({ name: z.string(), role: Role, createdAt: z.number(), sessions: z.number().int() });
export type User = z.infer<typeof User>;

export interface Session {
  id: string;
  user: string;
  /** The account's role now (read with the session, so a change applies at once). */
  role: Role;
  expiresAt: number;
}

const noUser = (name: string) => new FerryError({ code: "user.unknown", message: `no account named "${name}"`, file: null, hint: "list the accounts with `ferry user list` or on the Accounts page" });

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
    // Stores from before roles had one account, the admin.
    const columns = this.db.prepare("PRAGMA table_info(users)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "role")) this.db.exec("ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'");
  }

  users(): User[] {
    const rows = this.db.prepare("SELECT name, role, created_at, (SELECT count(*) FROM sessions s WHERE s.user = u.name AND s.expires_at >= ?) AS sessions FROM users u ORDER BY name").all(Date.now()) as { name: string; role: string; created_at: number; sessions: number }[];
    return rows.map((r) => ({ name: r.name, role: Role.parse(r.role), createdAt: r.created_at, sessions: r.sessions }));
  }

  admins(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin'").get() as { n: number }).n;
  }

  addUser(name: string, role: Role, password: string): void {
    const ok = UserName.safeParse(name);
    if (!ok.success) throw new FerryError({ code: "user.name.invalid", message: `"${name}" is not an account name: ${ok.error.issues[0]!.message}`, file: null, hint: "use a short name such as alice or ops-team" });
    if (this.hasUser(name)) throw new FerryError({ code: "user.exists", message: `an account named "${name}" already exists`, file: null, hint: "choose another name, or change its password with `ferry user passwd`" });
    this.db.prepare("INSERT INTO users (name, hash, created_at, role) VALUES (?, ?, ?, ?)").run(name, hashPassword(password), Date.now(), role);
  }

  /** A new password ends every session of the account. */
  changePassword(name: string, password: string): number {
    const hash = hashPassword(password);
    return this.db.transaction(() => {
      if (this.db.prepare("UPDATE users SET hash = ? WHERE name = ?").run(hash, name).changes === 0) throw noUser(name);
      return this.endSessions(name);
    })();
  }

  /** Removes the account and ends its sessions; the last admin stays. */
  removeUser(name: string): number {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT role FROM users WHERE name = ?").get(name) as { role: string } | undefined;
      if (!row) throw noUser(name);
      if (row.role === "admin" && this.admins() <= 1) throw new FerryError({ code: "user.last-admin", message: `"${name}" is the last admin`, file: null, hint: "add another admin first; without one nobody can manage accounts" });
      this.db.prepare("DELETE FROM users WHERE name = ?").run(name);
      return this.endSessions(name);
    })();
  }

  hasUser(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM users WHERE name = ?").get(name) !== undefined;
  }

  /**
   * FERRY_ADMIN_PASSWORD at start: the account exists as an admin with that
   * password. Sessions end only when the password really changed.
   */
  ensureAdmin(name: string, password: string): void {
    const row = this.db.prepare("SELECT hash, role FROM users WHERE name = ?").get(name) as { hash: string; role: string } | undefined;
    if (!row) return this.addUser(name, "admin", password);
    if (row.role !== "admin") this.db.prepare("UPDATE users SET role = 'admin' WHERE name = ?").run(name);
    if (!verifyPassword(password, row.hash)) this.changePassword(name, password);
  }

  checkPassword(name: string, password: string): boolean {
    const row = this.db.prepare("SELECT hash FROM users WHERE name = ?").get(name) as { hash: string } | undefined;
    // Hash anyway for unknown users, so timing does not tell which names exist.
    return verifyPassword(password, row?.hash ?? hashPassword("not a user")) && row !== undefined;
  }

  /** A new session; only the token's hash is stored. */
  createSession(user: string): { token: string; session: Session } {
    const token = randomBytes(32).toString("base64url");
    const role = Role.parse((this.db.prepare("SELECT role FROM users WHERE name = ?").get(user) as { role: string } | undefined)?.role);
    const session = { id: tokenId(token), user, role, expiresAt: Date.now() + SESSION_MS };
    this.db.prepare("INSERT INTO sessions (id, user, created_at, expires_at) VALUES (?, ?, ?, ?)").run(session.id, user, Date.now(), session.expiresAt);
    return { token, session };
  }

  session(token: string | null | undefined): Session | null {
    return token ? this.sessionById(tokenId(token)) : null;
  }

  sessionById(id: string): Session | null {
    const row = this.db.prepare("SELECT s.id, s.user, s.expires_at, u.role FROM sessions s JOIN users u ON u.name = s.user WHERE s.id = ?").get(id) as { id: string; user: string; expires_at: number; role: string } | undefined;
    const role = Role.safeParse(row?.role);
    return row && role.success && row.expires_at >= Date.now() ? { id: row.id, user: row.user, role: role.data, expiresAt: row.expires_at } : null;
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
