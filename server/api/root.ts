import { router } from "./trpc";
import { authRouter } from "./routers/auth";
import { jobsRouter } from "./routers/jobs";
import { sharesRouter } from "./routers/shares";
import { systemRouter } from "./routers/system";
import { vmRouter } from "./routers/vm";
import { usersRouter } from "./routers/users";
import { vmxRouter } from "./routers/vmx";

export const appRouter = router({
  auth: authRouter,
  vmx: vmxRouter,
  shares: sharesRouter,
  vm: vmRouter,
  jobs: jobsRouter,
  system: systemRouter,
  users: usersRouter,
});
export type AppRouter = typeof appRouter;
