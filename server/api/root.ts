import { router } from "./trpc";
import { vmxRouter } from "./routers/vmx";

export const appRouter = router({
  vmx: vmxRouter,
});
export type AppRouter = typeof appRouter;
