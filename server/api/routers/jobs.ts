import { readFileSync } from "node:fs";
import { tracked, TRPCError } from "@trpc/server";
import { z } from "zod";
import { FerryError } from "../../errors";
import { Host, Job, JobOptions, JobState, type JobStore } from "../../jobs";
import { PipelineEvent } from "../../pipeline/events";
import { domainState } from "../../libvirt/host";
import { virshMessage, VirshError } from "../../libvirt/virsh";
import type { Input } from "../../input/input";
import { findOutput, findShare, openShareInput, resolveInShare } from "../../shares";
import { openStream, operatorProcedure, router, viewerProcedure } from "../trpc";

const Id = z.string().uuid();

async function mustGet(store: Pick<JobStore, "get">, id: string): Promise<Job> {
  const job = await store.get(id);
  if (!job) throw new TRPCError({ code: "NOT_FOUND", message: `no job ${id}` });
  return job;
}

export const jobsRouter = router({
  /** Queue one job per guest, all with the same options. */
  create: operatorProcedure
    .input(z.object({ guests: z.array(z.object({ share: z.string().min(1).max(64), relPath: z.string().min(1).max(4096) })).min(1).max(200), options: JobOptions }))
    .output(z.object({ jobs: z.array(Job) }))
    .mutation(async ({ ctx, input }) => {
      const { store, config, worker } = ctx.ferry;
      findOutput(config, input.options.target);
      const host = input.options.host;
      if (host && !(await store.hosts()).some((h) => h.name === host)) {
        throw new FerryError({ code: "host.unknown", message: `no conversion host named "${host}" has ever reported to this store`, file: null, hint: "choose one on the Hosts page, or \"any host\"; start it with `ferry worker --host NAME`" });
      }
      // Check every guest before queuing any.
      const guests: { share: string; relPath: string }[] = [];
      // One input per share for the whole batch (one SSH connection, not one per guest).
      const opened = new Map<string, Input>();
      try {
        for (const g of input.guests) {
          const share = findShare(config, g.share);
          let source = opened.get(share.name);
          if (!source) opened.set(share.name, (source = await openShareInput(share)));
          const p = await resolveInShare(share, g.relPath, source);
          if (!/\.vmx$/i.test(p.rel)) throw new TRPCError({ code: "BAD_REQUEST", message: `"${g.relPath}" is not a .vmx file` });
          const active = await store.activeFor(g.share, p.rel);
          if (active) throw new TRPCError({ code: "CONFLICT", message: `${g.relPath} is already being converted (job ${active.id}, ${active.state}); wait for it or cancel it` });
          guests.push({ share: g.share, relPath: p.rel });
        }
      } finally {
        for (const s of opened.values()) await s.close();
      }
      const jobs: Job[] = [];
      for (const g of guests) jobs.push(await store.create({ ...g, options: input.options }));
      for (const j of jobs) await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "jobs.create", detail: { job: j.id, share: j.share, relPath: j.relPath, options: j.options } });
      worker.kick();
      return { jobs };
    }),

  list: viewerProcedure
    .input(z.object({ states: z.array(JobState).optional(), share: z.string().max(64).optional(), limit: z.number().int().min(1).max(1000).optional() }).default({}))
    .output(z.array(Job))
    .query(({ ctx, input }) => ctx.ferry.store.list(input)),

  /** The conversion hosts: each one's state, last heartbeat, accelerator, jobs and free overlay space. */
  hosts: viewerProcedure
    .output(z.object({ store: z.enum(["sqlite", "postgresql"]), hosts: z.array(Host) }))
    .query(async ({ ctx }) => ({ store: ctx.ferry.storeKind, hosts: await ctx.ferry.store.hosts() })),

  get: viewerProcedure
    .input(z.object({ id: Id }))
    .output(Job)
    .query(({ ctx, input }) => mustGet(ctx.ferry.store, input.id)),

  /** Everything about one job in one document: the job, its options and outputs, every event. */
  report: viewerProcedure
    .input(z.object({ id: Id }))
    .output(z.object({ generatedAt: z.string(), job: Job, events: z.array(z.object({ seq: z.number(), event: PipelineEvent })) }))
    .query(async ({ ctx, input }) => {
      const job = await mustGet(ctx.ferry.store, input.id);
      return { generatedAt: new Date().toISOString(), job, events: await ctx.ferry.store.events(job.id, 0, 100_000) };
    }),

  /**
   * The boot check's evidence for the job page: the end of the console log
   * and the screenshot, read from the files the job wrote (only those).
   */
  bootEvidence: viewerProcedure
    .input(z.object({ id: Id }))
    .output(z.object({ console: z.string().nullable(), screenshot: z.string().nullable() }))
    .query(async ({ ctx, input }) => {
      const job = await mustGet(ctx.ferry.store, input.id);
      const read = (kind: "console" | "screenshot") => {
        const f = job.outputs.find((o) => o.kind === kind);
        if (!f) return null;
        try {
          const buf = readFileSync(f.path);
          return kind === "console" ? buf.subarray(Math.max(0, buf.length - 64 * 1024)).toString("utf8") : `data:image/png;base64,${buf.toString("base64")}`;
        } catch {
          return null;
        }
      };
      return { console: read("console"), screenshot: read("screenshot") };
    }),

  /**
   * -o libvirt: the domain the job defined, and its state now, asked of
   * the libvirt it was defined in (null when the job defined none).
   */
  domain: viewerProcedure
    .input(z.object({ id: Id }))
    .output(z.object({ uri: z.string(), name: z.string(), pool: z.string(), volumes: z.array(z.string()), definedState: z.string(), started: z.boolean(), state: z.string().nullable(), error: z.string().nullable() }).nullable())
    .query(async ({ ctx, input }) => {
      const job = await mustGet(ctx.ferry.store, input.id);
      const d = (await ctx.ferry.store.events(job.id, 0, 100_000))
        .map((x) => x.event)
        .find((e): e is Extract<PipelineEvent, { type: "domain" }> => e.type === "domain");
      if (!d) return null;
      const base = { uri: d.uri, name: d.name, pool: d.pool, volumes: d.volumes, definedState: d.state, started: d.started };
      try {
        return { ...base, state: await domainState(d.uri, d.name, { timeoutMs: 10_000 }), error: null };
      } catch (e) {
        return { ...base, state: null, error: e instanceof VirshError ? virshMessage(e.stderr) : e instanceof FerryError ? e.message : "libvirt did not answer" };
      }
    }),

  cancel: operatorProcedure
    .input(z.object({ id: Id }))
    .output(Job)
    .mutation(async ({ ctx, input }) => {
      const job = await mustGet(ctx.ferry.store, input.id);
      if (job.state !== "queued" && job.state !== "running") throw new TRPCError({ code: "BAD_REQUEST", message: `the job has already ${job.state === "succeeded" ? "succeeded" : `ended (${job.state})`}` });
      await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "jobs.cancel", detail: { job: job.id, share: job.share, relPath: job.relPath, state: job.state, host: job.host } });
      return (await ctx.ferry.worker.cancel(input.id)) ?? job;
    }),

  /** A new job with the same guest and options as a failed, cancelled or interrupted one. */
  retry: operatorProcedure
    .input(z.object({ id: Id }))
    .output(Job)
    .mutation(async ({ ctx, input }) => {
      const { store, worker } = ctx.ferry;
      const job = await mustGet(store, input.id);
      if (!["failed", "cancelled", "interrupted"].includes(job.state)) throw new TRPCError({ code: "BAD_REQUEST", message: `only failed, cancelled or interrupted jobs can be retried; this one is ${job.state}` });
      const active = await store.activeFor(job.share, job.relPath);
      if (active) throw new TRPCError({ code: "CONFLICT", message: `the guest is already being converted (job ${active.id})` });
      const next = await store.create({ share: job.share, relPath: job.relPath, options: job.options, copyOnly: job.copyOnly, retryOf: job.id });
      await ctx.ferry.auth.audit({ user: ctx.session.user, address: ctx.address, action: "jobs.retry", detail: { job: next.id, retryOf: job.id, options: job.options } });
      worker.kick();
      return next;
    }),

  /**
   * The job's events over SSE, each tracked by its sequence number: a
   * reconnecting client sends the last id it saw and gets what followed,
   * without gaps or duplicates. Ends after the job's last event.
   */
  events: viewerProcedure
    .input(z.object({ id: Id, lastEventId: z.string().regex(/^\d{1,12}$/).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const { store, auth } = ctx.ferry;
      await mustGet(store, input.id);
      const release = openStream(ctx.session);
      let last = input.lastEventId ? Number(input.lastEventId) : 0;
      let wake: (() => void) | null = null;
      let pending = false;
      // Wake-ups from the store: this process's worker, or (PostgreSQL NOTIFY) a worker on any host.
      const off = store.onEvent((id: string) => {
        if (id !== input.id) return;
        if (wake) wake();
        else pending = true;
      });
      try {
        while (!signal?.aborted) {
          // A session ended meanwhile (sign-out everywhere) ends its streams too.
          if (!(await auth.sessionById(ctx.session.id))) return;
          // Subscribed before reading, so nothing slips between the read and the wait.
          const batch = await store.events(input.id, last, 1000);
          for (const e of batch) {
            last = e.seq;
            yield tracked(String(e.seq), PipelineEvent.parse(e.event));
          }
          if (batch.length === 1000) continue;
          const job = await store.get(input.id);
          if (!job || !["queued", "running"].includes(job.state)) {
            if ((await store.events(input.id, last, 1)).length === 0) return;
            continue;
          }
          if (pending) {
            pending = false;
            continue;
          }
          // Wait for a wake-up, or poll (a worker in another process on SQLite cannot wake us; a LISTEN may be reconnecting).
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, 250);
            function done() {
              clearTimeout(timer);
              wake = null;
              signal?.removeEventListener("abort", done);
              resolve();
            }
            wake = done;
            signal?.addEventListener("abort", done, { once: true });
          });
        }
      } finally {
        off();
        release();
      }
    }),
});
