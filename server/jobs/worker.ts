import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FerryError, type FerryErrorData } from "../errors";
import { inspectGuest } from "../input/inspect-guest";
import { plannedOutputs } from "../output";
import { runPipeline, type PipelineEvent } from "../pipeline";
import { planTarget } from "../plan";
import { findOutput, findShare, openShareInput, resolveInShare, type FerryConfig } from "../shares";
import type { Input } from "../input/input";
import { jobBus } from "./bus";
import { configuredVirtioWin } from "../convert/virtio-win-source";
import { planOptionsFor, type Job } from "./job";
import type { JobStore } from "./store";

/**
 * Runs queued jobs through the pipeline, within the global and per-share
 * limits. Several workers (the web server's and `ferry worker`) may share
 * one store: claiming is atomic, cancel requests are read from the store.
 */
export interface WorkerOptions {
  store: JobStore;
  /** The parts of the configuration the worker reads (not the web server's settings). */
  config: Pick<FerryConfig, "dataDir" | "shares" | "outputs" | "concurrency" | "perShareLimit"> & Partial<Pick<FerryConfig, "virtioWin">>;
  /** One structured line per event, with the job id. */
  log?: (line: Record<string, unknown>) => void;
  pollMs?: number;
}

/** Abort reason when the worker shuts down: the job is interrupted, not cancelled by a user. */
const SHUTDOWN = "ferry.shutdown";

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

export class Worker {
  private readonly active = new Map<string, AbortController>();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly o: WorkerOptions) {}

  overlayDir(jobId: string): string {
    return join(this.o.config.dataDir, "overlays", jobId);
  }

  start(): this {
    for (const out of this.o.config.outputs) mkdirSync(out.path, { recursive: true });
    this.recover();
    this.timer = setInterval(() => this.tick(), this.o.pollMs ?? 500);
    this.tick();
    return this;
  }

  /** Stop taking jobs; cancel and wait for the running ones when asked. */
  async stop(cancelRunning = false): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (cancelRunning) for (const ac of this.active.values()) ac.abort(SHUTDOWN);
    await Promise.allSettled([...this.running]);
  }

  /** Take work now (after a job was created) instead of at the next poll. */
  kick(): void {
    queueMicrotask(() => this.tick());
  }

  cancel(id: string): Job | null {
    const job = this.o.store.requestCancel(id);
    this.active.get(id)?.abort();
    return job;
  }

  /**
   * After a restart: jobs left running by a dead worker become interrupted,
   * their partial outputs and overlays removed. Queued jobs simply run.
   */
  recover(): Job[] {
    const out: Job[] = [];
    for (const { job, workerPid } of this.o.store.running()) {
      if (workerPid !== null && workerPid !== process.pid && alive(workerPid)) continue;
      if (this.active.has(job.id)) continue;
      this.cleanup(job);
      this.emit(job.id, { type: "warning", t: 0, code: "job.interrupted", message: "the server stopped while this job ran; its partial outputs were removed. Retry it to run it again." });
      this.o.store.finish(job.id, "interrupted", { error: { code: "job.interrupted", message: "the server stopped while this job ran", file: null, line: null, hint: "retry the job" } });
      out.push(job);
    }
    return out;
  }

  private cleanup(job: Job): void {
    rmSync(this.overlayDir(job.id), { recursive: true, force: true });
    if (job.outputDir && job.planName && existsSync(job.outputDir)) {
      for (const name of readdirSync(job.outputDir)) {
        if (name.startsWith(`.ferry-${job.planName}-`)) rmSync(join(job.outputDir, name), { recursive: true, force: true });
      }
    }
    // Killed while renaming into place: some final files may exist without the rest.
    for (const p of job.plannedOutputs) rmSync(p, { force: true });
  }

  private emit(id: string, event: PipelineEvent): void {
    const seq = this.o.store.appendEvent(id, event);
    jobBus().emit("event", id, seq);
    this.o.log?.({ job: id, seq, ...event });
  }

  private tick(): void {
    for (const [id, ac] of this.active) if (!ac.signal.aborted && this.o.store.cancelRequested(id)) ac.abort();
    if (this.stopped) return;
    while (this.active.size < this.o.config.concurrency) {
      const job = this.o.store.claimNext({ global: this.o.config.concurrency, perShare: this.o.config.perShareLimit }, process.pid);
      if (!job) break;
      const ac = new AbortController();
      this.active.set(job.id, ac);
      const p = this.run(job, ac).finally(() => {
        this.active.delete(job.id);
        this.running.delete(p);
        if (!this.stopped) this.kick();
      });
      this.running.add(p);
    }
  }

  private async run(job: Job, ac: AbortController): Promise<void> {
    const emit = (e: PipelineEvent) => this.emit(job.id, e);
    let pipelineStarted = false;
    const overlays = this.overlayDir(job.id);
    let source: Input | null = null;
    try {
      emit({ type: "log", t: 0, message: `job started: ${job.share}:${job.relPath}` });
      const share = findShare(this.o.config, job.share);
      const target = findOutput(this.o.config, job.options.target);
      source = await openShareInput(share);
      const vmx = await resolveInShare(share, job.relPath, source);
      const vm = await inspectGuest(vmx.abs, { datastores: share.datastores, noFollow: true, input: source });
      const plan = planTarget(vm, planOptionsFor(job.options, target.path, job.copyOnly, job.options.useVirtioWin && vm.guestOS.family === "windows" ? await configuredVirtioWin(this.o.config.virtioWin ?? null) : null));
      this.o.store.markRunning(job.id, { outputDir: target.path, planName: plan.name });
      mkdirSync(overlays, { recursive: true });
      pipelineStarted = true;
      const files = await runPipeline(plan, {
        emit: (e) => {
          // From here on the final names are this job's (the clash check passed): a crash must remove them.
          if (e.type === "stage" && e.state === "finished" && e.name.startsWith("Setting up the destination")) this.o.store.setPlannedOutputs(job.id, plannedOutputs(plan));
          emit(e);
        },
        signal: ac.signal,
        overlayDir: overlays,
        input: source,
      });
      this.o.store.finish(job.id, "succeeded", { outputs: files });
    } catch (e) {
      const err: FerryErrorData =
        e instanceof FerryError ? e.toJSON() : { code: "job.internal", message: (e as Error).message, file: null, line: null, hint: "this is a bug in Ferry; the job's log has the details" };
      if (!pipelineStarted) emit({ type: "error", t: 0, code: err.code, message: err.message, file: err.file, line: err.line, hint: err.hint });
      const state = !ac.signal.aborted ? "failed" : ac.signal.reason === SHUTDOWN ? "interrupted" : "cancelled";
      this.o.store.finish(job.id, state, { error: state === "interrupted" ? { code: "job.interrupted", message: "the worker was stopped while this job ran", file: null, line: null, hint: "retry the job" } : err });
    } finally {
      await source?.close();
      rmSync(overlays, { recursive: true, force: true });
    }
  }
}
