import type pg from "pg";
import { NOW_MS, transaction, type PgDatabase } from "../db/pg";
import { AuditEntry, badName, lastAdmin, nameTaken, newToken, noUser, Role, SESSION_MS, tokenId, UserName, type AuthStore, type Session, type User } from "./auth-store";
import { hashPassword, verifyPassword } from "./password";

/** Accounts, sessions and audit in the PostgreSQL database every host shares (tables in server/db/pg.ts). */
export class PgAuthStore implements AuthStore {
  constructor(private readonly db: PgDatabase) {}

  private async q<R extends pg.QueryResultRow>(sql: string, args: unknown[] = [], c?: pg.PoolClient): Promise<R[]> {
    if (c) return (await c.query<R>(sql, args)).rows;
    await this.db.ready;
    return (await this.db.pool.query<R>(sql, args)).rows;
  }

  async users(): Promise<User[]> {
    const rows = await this.q<{ name: string; role: string; created_at: number; sessions: number }>(
      `SELECT name, role, created_at, (SELECT count(*) FROM sessions s WHERE s.user_name = u.name AND s.expires_at >= ${NOW_MS}) AS sessions FROM users u ORDER BY name`,
    );
    return rows.map((r) => ({ name: r.name, role: Role.parse(r.role), createdAt: r.created_at, sessions: r.sessions }));
  }

  async admins(): Promise<number> {
    return (await this.q<{ n: number }>("SELECT count(*) AS n FROM users WHERE role = 'admin'"))[0]!.n;
  }

  async addUser(name: string, role: Role, password: string): Promise<void> {
    const ok = UserName.safeParse(name);
    if (!ok.success) throw badName(name, ok.error.issues[0]!.message);
    const rows = await this.q(`INSERT INTO users (name, hash, created_at, role) VALUES ($1, $2, ${NOW_MS}, $3) ON CONFLICT (name) DO NOTHING RETURNING name`, [name, hashPassword(password), role]);
    if (rows.length === 0) throw nameTaken(name);
  }

  async changePassword(name: string, password: string): Promise<number> {
    const hash = hashPassword(password);
    return transaction(this.db, async (c) => {
      if ((await this.q("UPDATE users SET hash = $2 WHERE name = $1 RETURNING name", [name, hash], c)).length === 0) throw noUser(name);
      return (await c.query("DELETE FROM sessions WHERE user_name = $1", [name])).rowCount ?? 0;
    });
  }

  async removeUser(name: string): Promise<number> {
    return transaction(this.db, async (c) => {
      // Lock the admins, so two hosts removing the last two admins at once cannot both succeed.
      const admins = await this.q<{ name: string }>("SELECT name FROM users WHERE role = 'admin' FOR UPDATE", [], c);
      const row = (await this.q<{ role: string }>("SELECT role FROM users WHERE name = $1 FOR UPDATE", [name], c))[0];
      if (!row) throw noUser(name);
      if (row.role === "admin" && admins.length <= 1) throw lastAdmin(name);
      await c.query("DELETE FROM users WHERE name = $1", [name]);
      return (await c.query("DELETE FROM sessions WHERE user_name = $1", [name])).rowCount ?? 0;
    });
  }

  async hasUser(name: string): Promise<boolean> {
    return (await this.q("SELECT 1 FROM users WHERE name = $1", [name])).length > 0;
  }

  async ensureAdmin(name: string, password: string): Promise<void> {
    const row = (await this.q<{ hash: string; role: string }>("SELECT hash, role FROM users WHERE name = $1", [name]))[0];
    if (!row) {
      try {
        return await this.addUser(name, "admin", password);
      } catch (e) {
        // Another host made it first: make sure of its role and password below.
        if (!(await this.hasUser(name))) throw e;
        return this.ensureAdmin(name, password);
      }
    }
    if (row.role !== "admin") await this.q("UPDATE users SET role = 'admin' WHERE name = $1", [name]);
    if (!verifyPassword(password, row.hash)) await this.changePassword(name, password);
  }

  async checkPassword(name: string, password: string): Promise<boolean> {
    const row = (await this.q<{ hash: string }>("SELECT hash FROM users WHERE name = $1", [name]))[0];
    // Hash anyway for unknown users, so timing does not tell which names exist.
    return verifyPassword(password, row?.hash ?? hashPassword("not a user")) && row !== undefined;
  }

  async createSession(user: string): Promise<{ token: string; session: Session }> {
    const token = newToken();
    const role = Role.parse((await this.q<{ role: string }>("SELECT role FROM users WHERE name = $1", [user]))[0]?.role);
    const session = { id: tokenId(token), user, role, expiresAt: Date.now() + SESSION_MS };
    await this.q("INSERT INTO sessions (id, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)", [session.id, user, Date.now(), session.expiresAt]);
    return { token, session };
  }

  async session(token: string | null | undefined): Promise<Session | null> {
    return token ? this.sessionById(tokenId(token)) : null;
  }

  async sessionById(id: string): Promise<Session | null> {
    const row = (await this.q<{ id: string; user_name: string; expires_at: number; role: string }>("SELECT s.id, s.user_name, s.expires_at, u.role FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id = $1", [id]))[0];
    const role = Role.safeParse(row?.role);
    return row && role.success && row.expires_at >= Date.now() ? { id: row.id, user: row.user_name, role: role.data, expiresAt: row.expires_at } : null;
  }

  async endSessions(user: string): Promise<number> {
    await this.db.ready;
    return (await this.db.pool.query("DELETE FROM sessions WHERE user_name = $1", [user])).rowCount ?? 0;
  }

  async audit(entry: { user: string | null; address: string | null; action: string; detail?: Record<string, unknown> }): Promise<void> {
    await this.q("INSERT INTO audit (at, user_name, address, action, detail) VALUES ($1, $2, $3, $4, $5)", [Date.now(), entry.user, entry.address, entry.action, JSON.stringify(entry.detail ?? {})]);
  }

  async auditLog(limit = 500): Promise<AuditEntry[]> {
    const rows = await this.q<{ id: number; at: number; user_name: string | null; address: string | null; action: string; detail: string }>("SELECT * FROM audit ORDER BY id DESC LIMIT $1", [limit]);
    return rows.map((r) => ({ id: r.id, at: r.at, user: r.user_name, address: r.address, action: r.action, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
