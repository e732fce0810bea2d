import { userInfo } from "node:os";
import { generatePassword, Role } from "../auth";
import { openStores } from "../jobs/open-store";
import { FerryError } from "../errors";
import { loadConfig } from "../shares";

/**
 * `ferry user add|passwd|remove|list`: accounts, on the server's store
 * (FERRY_DATA_DIR / FERRY_CONFIG), for whoever can write that folder. The
 * audit log names the local user who ran it.
 */
export const USER_USAGE = `  ferry user add NAME [--role admin|operator|viewer] [--password-stdin]
                                         a new account (viewer unless --role); prints a new password unless given on stdin
  ferry user passwd NAME [--password-stdin]
                                         a new password (printed unless given); ends the account's sessions
  ferry user remove NAME                 removes the account and ends its sessions (never the last admin)
  ferry user list [--json]               accounts, roles, live sessions
`;

export interface UserIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** All of standard input (for --password-stdin). */
  stdin?: () => Promise<string>;
}

export class UserUsageError extends Error {}

async function passwordFrom(flags: Set<string>, io: UserIo): Promise<{ password: string; generated: boolean }> {
  if (!flags.has("--password-stdin")) return { password: generatePassword(), generated: true };
  if (!io.stdin) throw new UserUsageError("--password-stdin: no standard input");
  const password = (await io.stdin()).replace(/\r?\n$/, "");
  if (password.length < 10 || password.length > 1024) throw new FerryError({ code: "user.password.weak", message: "the password on standard input must be 10 to 1024 characters", file: null, hint: "leave out --password-stdin and Ferry makes one" });
  return { password, generated: false };
}

export async function userCommand(args: string[], io: UserIo): Promise<number> {
  const [sub, ...rest] = args;
  const flags = new Set<string>();
  const names: string[] = [];
  let role: Role = "viewer";
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--role") {
      const r = Role.safeParse(rest[++i]);
      if (!r.success) throw new UserUsageError(`--role takes ${Role.options.join(", ")}`);
      role = r.data;
    } else if (a === "--password-stdin" || a === "--json") flags.add(a);
    else if (a.startsWith("-")) throw new UserUsageError(`user ${sub ?? ""}: unknown option ${a}`);
    else names.push(a);
  }
  const want = sub === "list" ? 0 : 1;
  if (!["add", "passwd", "remove", "list"].includes(sub ?? "")) throw new UserUsageError("user takes add, passwd, remove or list");
  if (names.length !== want) throw new UserUsageError(want ? `user ${sub} takes one account name` : "user list takes no name");
  const config = loadConfig();
  const { auth, store } = openStores(config);
  const who = `cli:${userInfo().username}`;
  try {
    const name = names[0]!;
    if (sub === "list") {
      const users = await auth.users();
      if (flags.has("--json")) io.out(JSON.stringify(users, null, 2) + "\n");
      else {
        const w = Math.max(4, ...users.map((u) => u.name.length));
        io.out(`${"NAME".padEnd(w)}  ROLE      SESSIONS  CREATED\n`);
        for (const u of users) io.out(`${u.name.padEnd(w)}  ${u.role.padEnd(8)}  ${String(u.sessions).padStart(8)}  ${new Date(u.createdAt).toISOString()}\n`);
      }
    } else if (sub === "add") {
      const { password, generated } = await passwordFrom(flags, io);
      await auth.addUser(name, role, password);
      await auth.audit({ user: who, address: null, action: "users.add", detail: { name, role } });
      io.out(generated ? `added ${role} "${name}" with the password\n\n    ${password}\n\n` : `added ${role} "${name}"\n`);
    } else if (sub === "passwd") {
      const { password, generated } = await passwordFrom(flags, io);
      const ended = await auth.changePassword(name, password);
      await auth.audit({ user: who, address: null, action: "users.passwd", detail: { name, sessionsEnded: ended } });
      io.out(`${generated ? `new password for "${name}":\n\n    ${password}\n\n` : `password of "${name}" changed\n`}${ended} session${ended === 1 ? "" : "s"} ended\n`);
    } else {
      const ended = await auth.removeUser(name);
      await auth.audit({ user: who, address: null, action: "users.remove", detail: { name, sessionsEnded: ended } });
      io.out(`removed "${name}"; ${ended} session${ended === 1 ? "" : "s"} ended\n`);
    }
    return 0;
  } finally {
    await auth.close();
    await store.close();
  }
}
