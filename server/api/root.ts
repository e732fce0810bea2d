import { router } from "./trpc";
import { jobsRouter } from "./routers/jobs";
import { sharesRouter } from "./routers/shares";
import { systemRouter } from "./routers/system";
import { vmRouter } from "./routers/vm";
import { vmxRouter } from "./routers/vmx";

export const appRouter = router({
  vmx: vmxRouter,
  shares: sharesRouter,
  vm: vmRouter,
  jobs: jobsRouter,
  system: systemRouter,
});
export type AppRouter = typeof appRouter;
