import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { AuditEntry, badName, lastAdmin, nameTaken, newToken, noUser, Role, SESSION_MS, tokenId, User, UserName, type AuthStore, type Session } from "./auth-store";
import { hashPassword, verifyPassword } from "./password";

/** Accounts, sessions and audit in SQLite, in the same file as the jobs. Each method is one synchronous call. */
export class SqliteAuthStore implements AuthStore {
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

  async users(): Promise<User[]> {
    const rows = this.db.prepare("SELECT name, role, created_at, (SELECT count(*) FROM sessions s WHERE s.user = u.name AND s.expires_at >= ?) AS sessions FROM users u ORDER BY name").all(Date.now()) as { name: string; role: string; created_at: number; sessions: number }[];
    return rows.map((r) => ({ name: r.name, role: Role.parse(r.role), createdAt: r.created_at, sessions: r.sessions }));
  }

  private adminCount(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin'").get() as { n: number }).n;
  }

  async admins(): Promise<number> {
    return this.adminCount();
  }

  async addUser(name: string, role: Role, password: string): Promise<void> {
    const ok = UserName.safeParse(name);
    if (!ok.success) throw badName(name, ok.error.issues[0]!.message);
    if (this.has(name)) throw nameTaken(name);
    this.db.prepare("INSERT INTO users (name, hash, created_at, role) VALUES (?, ?, ?, ?)").run(name, hashPassword(password), Date.now(), role);
  }

  /** A new password ends every session of the account. */
  async changePassword(name: string, password: string): Promise<number> {
    const hash = hashPassword(password);
    return this.db.transaction(() => {
      if (this.db.prepare("UPDATE users SET hash = ? WHERE name = ?").run(hash, name).changes === 0) throw noUser(name);
      return this.end(name);
    })();
  }

  /** Removes the account and ends its sessions; the last admin stays. */
  async removeUser(name: string): Promise<number> {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT role FROM users WHERE name = ?").get(name) as { role: string } | undefined;
      if (!row) throw noUser(name);
      if (row.role === "admin" && this.adminCount() <= 1) throw lastAdmin(name);
      this.db.prepare("DELETE FROM users WHERE name = ?").run(name);
      return this.end(name);
    })();
  }

  private has(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM users WHERE name = ?").get(name) !== undefined;
  }

  async hasUser(name: string): Promise<boolean> {
    return this.has(name);
  }

  /**
   * FERRY_ADMIN_PASSWORD at start: the account exists as an admin with that
   * password. Sessions end only when the password really changed.
   */
  async ensureAdmin(name: string, password: string): Promise<void> {
    const row = this.db.prepare("SELECT hash, role FROM users WHERE name = ?").get(name) as { hash: string; role: string } | undefined;
    if (!row) return this.addUser(name, "admin", password);
    if (row.role !== "admin") this.db.prepare("UPDATE users SET role = 'admin' WHERE name = ?").run(name);
    if (!verifyPassword(password, row.hash)) await this.changePassword(name, password);
  }

  async checkPassword(name: string, password: string): Promise<boolean> {
    const row = this.db.prepare("SELECT hash FROM users WHERE name = ?").get(name) as { hash: string } | undefined;
    // Hash anyway for unknown users, so timing does not tell which names exist.
    return verifyPassword(password, row?.hash ?? hashPassword("not a user")) && row !== undefined;
  }

  /** A new session; only the token's hash is stored. */
  async createSession(user: string): Promise<{ token: string; session: Session }> {
    const token = newToken();
    const role = Role.parse((this.db.prepare("SELECT role FROM users WHERE name = ?").get(user) as { role: string } | undefined)?.role);
    const session = { id: tokenId(token), user, role, expiresAt: Date.now() + SESSION_MS };
    this.db.prepare("INSERT INTO sessions (id, user, created_at, expires_at) VALUES (?, ?, ?, ?)").run(session.id, user, Date.now(), session.expiresAt);
    return { token, session };
  }

  async session(token: string | null | undefined): Promise<Session | null> {
    return token ? this.byId(tokenId(token)) : null;
  }

  async sessionById(id: string): Promise<Session | null> {
    return this.byId(id);
  }

  private byId(id: string): Session | null {
    const row = this.db.prepare("SELECT s.id, s.user, s.expires_at, u.role FROM sessions s JOIN users u ON u.name = s.user WHERE s.id = ?").get(id) as { id: string; user: string; expires_at: number; role: string } | undefined;
    const role = Role.safeParse(row?.role);
    return row && role.success && row.expires_at >= Date.now() ? { id: row.id, user: row.user, role: role.data, expiresAt: row.expires_at } : null;
  }

  /** Logout ends every session of the user, on every device. */
  private end(user: string): number {
    return this.db.prepare("DELETE FROM sessions WHERE user = ?").run(user).changes;
  }

  async endSessions(user: string): Promise<number> {
    return this.end(user);
  }

  async audit(entry: { user: string | null; address: string | null; action: string; detail?: Record<string, unknown> }): Promise<void> {
    this.db.prepare("INSERT INTO audit (at, user, address, action, detail) VALUES (?, ?, ?, ?, ?)").run(Date.now(), entry.user, entry.address, entry.action, JSON.stringify(entry.detail ?? {}));
  }

  async auditLog(limit = 500): Promise<AuditEntry[]> {
    return (this.db.prepare("SELECT * FROM audit ORDER BY id DESC LIMIT ?").all(limit) as { id: number; at: number; user: string | null; address: string | null; action: string; detail: string }[]).map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
