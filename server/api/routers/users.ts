import { z } from "zod";
import { Role, User, UserName } from "../../auth";
import { adminProcedure, router } from "../trpc";

/** At least this long; `ferry user add` makes 20-character ones. */
export const Password = z.string().min(10, "at least 10 characters").max(1024);

/** Accounts: admins only. A new password or a removal ends the account's sessions at once. */
export const usersRouter = router({
  list: adminProcedure.output(z.array(User)).query(({ ctx }) => ctx.ferry.auth.users()),

  add: adminProcedure
    .input(z.object({ name: UserName, role: Role, password: Password }))
    .output(User)
    .mutation(async ({ ctx, input }) => {
      const { auth } = ctx.ferry;
      await auth.addUser(input.name, input.role, input.password);
      await auth.audit({ user: ctx.session.user, address: ctx.address, action: "users.add", detail: { name: input.name, role: input.role } });
      return (await auth.users()).find((u) => u.name === input.name)!;
    }),

  passwd: adminProcedure
    .input(z.object({ name: UserName, password: Password }))
    .output(z.object({ ended: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const ended = await ctx.ferry.auth.changePassword(input.name, input.password);
      await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "users.passwd", detail: { name: input.name, sessionsEnded: ended } });
      return { ended };
    }),

  remove: adminProcedure
    .input(z.object({ name: UserName }))
    .output(z.object({ ended: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const ended = await ctx.ferry.auth.removeUser(input.name);
      await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "users.remove", detail: { name: input.name, sessionsEnded: ended } });
      return { ended };
    }),
});
