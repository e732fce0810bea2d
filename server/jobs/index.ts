/** Jobs: the store, the worker and the bus that wakes live subscriptions. */
export * from "./job";
export type { JobStore, Claimant, Limits } from "./store";
export { PgJobStore } from "./pg-store";
export { openStores, type Stores } from "./open-store";
export { SqliteJobStore } from "./sqlite-store";
export { Worker, defaultHostName, type WorkerOptions } from "./worker";
export { jobBus } from "./bus";
