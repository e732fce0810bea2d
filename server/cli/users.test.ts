import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteAuthStore } from "../auth";
import { run } from "./main";

const dataDir = mkdtempSync(join(tmpdir(), "ferry-users-"));
const env = { ...process.env, FERRY_DATA_DIR: dataDir, FERRY_CONFIG: "" };

/** bin/ferry itself, as an admin runs it. */
function ferry(args: string[], input?: string) {
  const r = spawnSync(resolve(__dirname, "../../bin/ferry"), ["user", ...args], { env, input, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** The same command in this process (the refusals need no new process each). */
async function inProcess(args: string[], input?: string) {
  process.env.FERRY_DATA_DIR = dataDir;
  process.env.FERRY_CONFIG = "";
  let out = "";
  let err = "";
  const status = await run(["user", ...args], { out: (x) => (out += x), err: (x) => (err += x), stdin: input === undefined ? undefined : async () => input });
  return { status, out, err };
}

describe("ferry user", () => {
  it("adds, lists, changes and removes accounts; changes end sessions; the audit log names who ran it", async () => {
    const added = ferry(["add", "alice", "--role", "operator"]);
    expect(added.status, added.err).toBe(0);
    const password = /added operator "alice" with the password\n\n {4}(\S{20})\n/.exec(added.out)![1]!;
    expect(ferry(["add", "bob", "--password-stdin"], "bob's own password\n")).toMatchObject({ status: 0, out: 'added viewer "bob"\n' });
    const store = new SqliteAuthStore(join(dataDir, "ferry.db"));
    expect(await store.checkPassword("alice", password)).toBe(true);
    expect(await store.checkPassword("bob", "bob's own password")).toBe(true);
    const session = await store.createSession("alice");
    const list = ferry(["list"]);
    expect(list.out).toMatch(/^NAME {3}ROLE {6}SESSIONS {2}CREATED\nalice {2}operator {9}1 {2}\d{4}-.*\nbob {4}viewer {11}0 {2}/);
    expect(JSON.parse(ferry(["list", "--json"]).out)).toEqual([expect.objectContaining({ name: "alice", role: "operator", sessions: 1 }), expect.objectContaining({ name: "bob", role: "viewer" })]);
    const passwd = ferry(["passwd", "alice"]);
    expect(passwd.out).toMatch(/^new password for "alice":\n\n {4}\S{20}\n\n1 session ended\n$/);
    expect(await store.session(session.token)).toBeNull();
    expect(ferry(["remove", "bob"]).out).toBe('removed "bob"; 0 sessions ended\n');
    expect((await store.auditLog()).map((e) => [e.user?.startsWith("cli:"), e.action])).toEqual([[true, "users.remove"], [true, "users.passwd"], [true, "users.add"], [true, "users.add"]]);
    await store.close();
  });

  it("refuses with a message and a hint, exit status 1", async () => {
    expect(await inProcess(["add", "alice"])).toMatchObject({ status: 1, err: expect.stringMatching(/^ferry: error: an account named "alice" already exists\nferry: hint: /) });
    expect((await inProcess(["remove", "ghost"])).err).toMatch(/^ferry: error: no account named "ghost"\nferry: hint: /);
    expect((await inProcess(["passwd", "ghost"])).err).toMatch(/no account named "ghost"/);
    expect((await inProcess(["add", "../x"])).err).toMatch(/is not an account name/);
    expect(await inProcess(["add", "carol", "--password-stdin"], "short\n")).toMatchObject({ status: 1, err: expect.stringContaining("10 to 1024 characters") });
    expect(await inProcess(["add", "carol", "--role", "root"])).toMatchObject({ status: 1, err: expect.stringContaining("--role takes viewer, operator, admin") });
    expect((await inProcess(["frobnicate"])).err).toContain("user takes add, passwd, remove or list");
    expect((await inProcess(["list", "extra"])).err).toContain("user list takes no name");
    expect((await inProcess(["add"])).err).toContain("user add takes one account name");
    expect((await inProcess(["add", "x", "--bogus"])).err).toContain("unknown option --bogus");
    expect((await inProcess(["add", "dave", "--password-stdin"])).err).toContain("--password-stdin: no standard input");
  });

  it("never removes the last admin", async () => {
    expect(ferry(["add", "root", "--role", "admin"]).status).toBe(0);
    expect((await inProcess(["remove", "root"])).err).toMatch(/"root" is the last admin\nferry: hint: add another admin first/);
  });
});
