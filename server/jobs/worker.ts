import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FerryError, type FerryErrorData } from "../errors";
import { inspectGuest } from "../input/inspect-guest";
import { plannedOutputs } from "../output";
import { resolveDestination, targetFolders } from "../output/targets";
import { runPipeline, type PipelineEvent } from "../pipeline";
import { planTarget } from "../plan";
import { probeAccel } from "../qemu/accel";
import { findOutput, findShare, openShareInput, resolveInShare, type FerryConfig } from "../shares";
import type { Input } from "../input/input";
import { virtioWinFor } from "../convert/virtio-win-source";
import { FERRY_VERSION } from "../version";
import { HostName, planOptionsFor, type Job } from "./job";
import type { Claimant, JobStore } from "./store";

/**
 * Runs queued jobs through the pipeline on one conversion host, within the
 * global, per-share and per-host limits. Any number of workers, on one host
 * or many, share one store: claiming is atomic, each claim is a lease the
 * worker renews with its heartbeat, and cancel requests are read from the
 * store. A host that stops heartbeating loses its jobs to the first worker
 * that notices: they become interrupted, what they left on the shared
 * output storage is removed, and they run again when the user asked for it.
 */
export interface WorkerOptions {
  store: JobStore;
  /** The parts of the configuration the worker reads (not the web server's settings). */
  config: Pick<FerryConfig, "dataDir" | "shares" | "outputs" | "concurrency" | "perShareLimit"> & Partial<Pick<FerryConfig, "globalLimit" | "leaseSeconds" | "overlayDir" | "virtioWin">>;
  /** This conversion host's name (default: the machine's host name). */
  host?: string;
  /** One structured line per event, with the job id. */
  log?: (line: Record<string, unknown>) => void;
  pollMs?: number;
}

/** Abort reasons: the worker shuts down, or its lease was taken away; the job is interrupted, not cancelled by a user. */
const SHUTDOWN = "ferry.shutdown";
const LOST = "ferry.lease-lost";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed worker can linger as a zombie until something reaps it: that is not alive.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The machine's host name as a valid Ferry host name (its first label, unusual characters replaced). */
export function defaultHostName(): string {
  const h = hostname().split(".")[0]!.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 63);
  return h || "localhost";
}

export class Worker {
  readonly host: string;
  private readonly active = new Map<string, AbortController>();
  private readonly running = new Set<Promise<void>>();
  /** Each job's event appends, in order: the pipeline emits synchronously, the store answers later. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private started = false;
  private ticking: Promise<void> | null = null;
  private again = false;
  private accelerator = "probing";
  private beating = false;
  /** performance.now() when the last successful lease renewal (or claim) was asked for. */
  private renewedAt = 0;

  constructor(private readonly o: WorkerOptions) {
    const host = HostName.safeParse(o.host ?? defaultHostName());
    if (!host.success) throw new FerryError({ code: "worker.host.invalid", message: `"${o.host}" is not a host name: ${host.error.issues[0]!.message}`, file: null, hint: "give ferry worker --host a short name such as conv01" });
    this.host = host.data;
  }

  private get leaseMs(): number {
    return (this.o.config.leaseSeconds ?? 30) * 1000;
  }

  private get claimant(): Claimant {
    return { host: this.host, pid: process.pid, leaseMs: this.leaseMs };
  }

  private get overlayRoot(): string {
    return this.o.config.overlayDir ?? join(this.o.config.dataDir, "overlays");
  }

  overlayDir(jobId: string): string {
    return join(this.overlayRoot, jobId);
  }

  /** Starts in the background; ready() resolves once the first recovery and heartbeat are done. */
  start(): this {
    if (this.started) return this;
    this.started = true;
    for (const dir of targetFolders(this.o.config.outputs)) mkdirSync(dir, { recursive: true });
    mkdirSync(this.overlayRoot, { recursive: true });
    void probeAccel().then((a) => (this.accelerator = `${a.kind}: ${a.reason}`));
    // A cancel of one of this worker's jobs, from any host: act now rather than at the next poll.
    this.unsubscribe = this.o.store.onEvent((id, seq) => {
      if (seq === 0 && this.active.has(id)) this.kick();
    });
    this.startup = (async () => {
      await this.recover();
      await this.beat();
      if (this.stopped) return;
      this.timer = setInterval(() => this.kick(), this.o.pollMs ?? 500);
      // Four renewals per lease: one slow or lost renewal is no reason to stop a job (see fence()).
      this.beatTimer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.leaseMs / 4)));
      // No I/O: checked often, so a cut-off worker stops soon after the threshold, well before the lease ends.
      this.fenceTimer = setInterval(() => this.fence(), Math.max(50, Math.floor(this.leaseMs / 20)));
      this.kick();
    })().catch((e: Error) => this.o.log?.({ msg: "worker start failed", host: this.host, error: e.message }));
    return this;
  }

  private startup: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  ready(): Promise<void> {
    return this.startup;
  }

  /** Stop taking jobs; cancel and wait for the running ones when asked. */
  async stop(cancelRunning = false): Promise<void> {
    this.stopped = true;
    await this.startup;
    if (cancelRunning) for (const ac of this.active.values()) ac.abort(SHUTDOWN);
    // Until the running jobs end, their leases are renewed and cancel requests still reach them.
    await Promise.allSettled([...this.running]);
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.beatTimer) clearInterval(this.beatTimer);
    if (this.fenceTimer) clearInterval(this.fenceTimer);
    await this.ticking;
    if (this.started) await this.o.store.hostStopped(this.host).catch(() => undefined);
  }

  /** Take work now (after a job was created) instead of at the next poll. */
  kick(): void {
    // A process that does not run jobs (FERRY_NO_WORKER=1, the web host) never claims one;
    // a stopping worker claims nothing more (tick) but still reads cancel requests.
    if (!this.started) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = (async () => {
      try {
        do {
          this.again = false;
          await this.tick();
        } while (this.again && !this.stopped);
      } catch (e) {
        this.o.log?.({ msg: "worker tick failed", host: this.host, error: (e as Error).message });
      } finally {
        this.ticking = null;
      }
    })();
  }

  /** Cancel: through the store, so it reaches the job on whichever host runs it; at once when it runs here. */
  async cancel(id: string): Promise<Job | null> {
    const job = await this.o.store.requestCancel(id);
    this.active.get(id)?.abort();
    return job;
  }

  /**
   * After a restart of this host: jobs it left running (its worker process
   * is gone) become interrupted, their partial outputs and overlays removed.
   * Queued jobs simply run.
   */
  async recover(): Promise<Job[]> {
    const out: Job[] = [];
    for (const { job, host, workerPid } of await this.o.store.running()) {
      if (host !== null && host !== this.host) continue; // another host's: its lease tells
      if (workerPid !== null && workerPid !== process.pid && alive(workerPid)) continue;
      if (this.active.has(job.id)) continue;
      if (!(await this.o.store.finish(job.id, "interrupted", { error: { code: "job.interrupted", message: "the conversion host stopped while this job ran", file: null, line: null, hint: "retry the job" } }))) continue;
      await this.afterInterrupted(job, "the conversion host restarted while this job ran");
      out.push(job);
    }
    return out;
  }

  /** Jobs whose host stopped heartbeating: interrupted, cleaned up, retried when asked. */
  async reap(): Promise<Job[]> {
    const lost = await this.o.store.expireLeases();
    for (const job of lost) await this.afterInterrupted(job, `host ${job.host ?? "?"} stopped heartbeating while this job ran`);
    return lost;
  }

  private async afterInterrupted(job: Job, why: string): Promise<void> {
    this.cleanup(job);
    let retry: Job | null = null;
    if (job.attempt <= job.options.autoRetry) {
      retry = await this.o.store.create({ share: job.share, relPath: job.relPath, options: job.options, copyOnly: job.copyOnly, retryOf: job.id, attempt: job.attempt + 1 });
    }
    await this.emit(job.id, {
      type: "warning",
      t: 0,
      code: "job.interrupted",
      message: `${why}; its partial outputs were removed. ${retry ? `It runs again as job ${retry.id} (attempt ${retry.attempt} of ${job.options.autoRetry + 1}).` : "Retry it to run it again."}`,
    });
    if (retry) this.kick();
  }

  /** What an interrupted run left: its staged and final files on the shared output storage, and its overlays when they are on this host. */
  private cleanup(job: Job): void {
    if (job.host === null || job.host === this.host) rmSync(this.overlayDir(job.id), { recursive: true, force: true });
    if (job.outputDir && job.planName && existsSync(job.outputDir)) {
      for (const name of readdirSync(job.outputDir)) {
        if (name.startsWith(`.ferry-${job.planName}-`)) rmSync(join(job.outputDir, name), { recursive: true, force: true });
      }
    }
    // Killed while renaming into place: some final files may exist without the rest.
    for (const p of job.plannedOutputs) rmSync(p, { force: true });
  }

  private emit(id: string, event: PipelineEvent): Promise<unknown> {
    const next = (this.chains.get(id) ?? Promise.resolve()).then(async () => {
      try {
        const seq = await this.o.store.appendEvent(id, event);
        this.o.log?.({ job: id, seq, host: this.host, ...event });
      } catch (e) {
        this.o.log?.({ job: id, msg: "event not stored", error: (e as Error).message, event });
      }
    });
    this.chains.set(id, next);
    return next;
  }

  /** The heartbeat: this host's state, its leases renewed, and other hosts' expired leases reaped. */
  private async beat(): Promise<void> {
    if (this.stopped && this.started && this.active.size === 0) return;
    // One heartbeat at a time: one stuck on an unreachable database must not pile up more.
    if (this.beating) return;
    this.beating = true;
    try {
      let free: number | null = null;
      try {
        const s = statfsSync(this.overlayRoot);
        free = s.bavail * s.bsize;
      } catch {
        /* not there yet */
      }
      await this.o.store.heartbeat({
        name: this.host,
        pid: process.pid,
        version: FERRY_VERSION,
        accelerator: this.accelerator,
        overlayDir: this.overlayRoot,
        overlayFreeBytes: free,
        concurrency: this.o.config.concurrency,
        jobsRunning: this.active.size,
        leaseMs: this.leaseMs,
      });
      const asked = performance.now();
      const held = new Set(await this.o.store.renewLeases(this.claimant));
      this.renewedAt = asked;
      // A job this worker runs but no longer holds was interrupted by another host (this one looked dead): stop writing.
      for (const [id, ac] of this.active) if (!held.has(id) && !ac.signal.aborted) ac.abort(LOST);
      await this.reap();
    } catch (e) {
      this.o.log?.({ msg: "heartbeat failed", host: this.host, error: (e as Error).message });
    } finally {
      this.beating = false;
    }
  }

  /**
   * Cut off from the store (a network partition, a database that hangs),
   * this worker cannot renew its leases, and once they run out another host
   * interrupts its jobs and cleans up the shared output. So it stops them
   * itself first: after three quarters of the lease without a renewal (timed
   * from when the last successful renewal was asked for, which is no later
   * than the database's own time of it).
   */
  private fence(): void {
    if (this.active.size === 0 || performance.now() - this.renewedAt <= this.leaseMs * 0.75) return;
    for (const [id, ac] of this.active) {
      if (ac.signal.aborted) continue;
      this.o.log?.({ job: id, host: this.host, msg: "lease not renewed for three quarters of its time: stopping the job before another host takes it over" });
      ac.abort(LOST);
    }
  }

  private async tick(): Promise<void> {
    const ids = [...this.active.keys()];
    for (const id of await this.o.store.cancelRequested(ids)) {
      const ac = this.active.get(id);
      if (ac && !ac.signal.aborted) ac.abort();
    }
    if (this.stopped) return;
    while (this.active.size < this.o.config.concurrency && !this.stopped) {
      const asked = performance.now();
      const job = await this.o.store.claimNext({ global: this.o.config.globalLimit ?? null, perShare: this.o.config.perShareLimit, perHost: this.o.config.concurrency }, this.claimant);
      if (!job) break;
      // A claim is a lease from the moment it was asked for.
      if (this.active.size === 0) this.renewedAt = asked;
      const ac = new AbortController();
      this.active.set(job.id, ac);
      const p = this.run(job, ac).finally(() => {
        this.active.delete(job.id);
        this.running.delete(p);
        this.chains.delete(job.id);
        if (!this.stopped) this.kick();
      });
      this.running.add(p);
    }
  }

  private async run(job: Job, ac: AbortController): Promise<void> {
    const emit = (e: PipelineEvent) => void this.emit(job.id, e);
    let pipelineStarted = false;
    const overlays = this.overlayDir(job.id);
    let source: Input | null = null;
    // Store writes made from the pipeline's synchronous callbacks, awaited before the verdict.
    const writes: Promise<unknown>[] = [];
    try {
      emit({ type: "log", t: 0, message: `job started on ${this.host}: ${job.share}:${job.relPath}` });
      const share = findShare(this.o.config, job.share);
      const target = findOutput(this.o.config, job.options.target);
      source = await openShareInput(share);
      const vmx = await resolveInShare(share, job.relPath, source);
      const vm = await inspectGuest(vmx.abs, { datastores: share.datastores, noFollow: true, input: source });
      const destination = await resolveDestination(target, job.options.output);
      const plan = planTarget(vm, planOptionsFor(job.options, destination, job.copyOnly, await virtioWinFor(vm, job.options.useVirtioWin, this.o.config.virtioWin ?? null)));
      await this.o.store.markRunning(job.id, { outputDir: destination.outputDir, planName: plan.name });
      mkdirSync(overlays, { recursive: true });
      pipelineStarted = true;
      const files = await runPipeline(plan, {
        emit: (e) => {
          // From here on the final names are this job's (the clash check passed): a crash must remove them.
          if (e.type === "stage" && e.state === "finished" && e.name.startsWith("Setting up the destination")) writes.push(this.o.store.setPlannedOutputs(job.id, plannedOutputs(plan)));
          emit(e);
        },
        signal: ac.signal,
        overlayDir: overlays,
        input: source,
      });
      await Promise.all(writes);
      await this.chains.get(job.id);
      await this.o.store.finish(job.id, "succeeded", { outputs: files });
    } catch (e) {
      const err: FerryErrorData =
        e instanceof FerryError ? e.toJSON() : { code: "job.internal", message: (e as Error).message, file: null, line: null, hint: "this is a bug in Ferry; the job's log has the details" };
      if (!pipelineStarted) emit({ type: "error", t: 0, code: err.code, message: err.message, file: err.file, line: err.line, hint: err.hint });
      await Promise.allSettled(writes);
      await this.chains.get(job.id);
      const reason: unknown = ac.signal.reason;
      const state = !ac.signal.aborted ? "failed" : reason === SHUTDOWN || reason === LOST ? "interrupted" : "cancelled";
      const ended = await this.o.store
        .finish(job.id, state, { error: state === "interrupted" ? { code: "job.interrupted", message: "the worker was stopped while this job ran", file: null, line: null, hint: "retry the job" } : err })
        .catch((fe: Error) => (this.o.log?.({ job: job.id, msg: "job verdict not stored", error: fe.message }), false));
      // Stopped with the worker: cleaned up and retried like a crash (a lost lease was already handled by the host that took it).
      const now = ended && state === "interrupted" ? await this.o.store.get(job.id) : null;
      if (now) await this.afterInterrupted(now, `the worker on ${this.host} was stopped while this job ran`);
    } finally {
      await source?.close();
      rmSync(overlays, { recursive: true, force: true });
    }
  }
}
