/** Jobs: the store, the worker and the bus that wakes live subscriptions. */
export * from "./job";
export type { JobStore } from "./store";
export { SqliteJobStore } from "./sqlite-store";
export { Worker, type WorkerOptions } from "./worker";
export { jobBus } from "./bus";
