import { EventEmitter } from "node:events";

/**
 * Process-wide wake-ups: the worker says "job X has event N"; live
 * subscriptions listen. The store stays the source of truth, so a listener
 * in another process simply polls it instead.
 */
const KEY = Symbol.for("ferry.jobBus");
const g = globalThis as unknown as Record<symbol, EventEmitter | undefined>;

export function jobBus(): EventEmitter {
  let bus = g[KEY];
  if (!bus) {
    bus = new EventEmitter();
    bus.setMaxListeners(0);
    g[KEY] = bus;
  }
  return bus;
}
