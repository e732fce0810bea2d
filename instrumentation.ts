/** Next.js calls this once when the server starts: the job worker starts with it. */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { startWorker } = await import("./server/app");
  startWorker();
}
