import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { freeBytesOrNull as free } from "../../host-fs";
import { z } from "zod";
import { qemuImgSelfCheck } from "../../qemu";
import { probeAccel } from "../../qemu/accel";
import { targetStatus } from "../../output/targets";
import { configuredVirtioWin } from "../../convert/virtio-win-source";
import { FerryError } from "../../errors";
import { viewerProcedure, router } from "../trpc";

function guestfishVersion(): string | null {
  try {
    return execFileSync("guestfish", ["--version"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

export const systemRouter = router({
  health: viewerProcedure
    .output(
      z.object({
        qemuImg: z.object({ ok: z.boolean(), version: z.string().nullable(), formats: z.array(z.string()), error: z.string().nullable() }),
        libguestfs: z.object({ ok: z.boolean(), version: z.string().nullable() }),
        kvm: z.object({ device: z.boolean(), accessible: z.boolean(), accel: z.enum(["kvm", "tcg"]), reason: z.string() }),
        /** Output targets: a folder, or a libvirt pool (where: `POOL on URI`), with the space free there. */
        outputs: z.array(z.object({ name: z.string(), kind: z.enum(["folder", "libvirt"]), where: z.string(), freeBytes: z.number().nullable(), error: z.string().nullable() })),
        dataDir: z.object({ path: z.string(), freeBytes: z.number().nullable() }),
        worker: z.object({ concurrency: z.number(), perShareLimit: z.number() }),
        /** The configured virtio-win: what Windows versions it has boot drivers for, or why it cannot be read. */
        virtioWin: z.object({ path: z.string().nullable(), supports: z.array(z.string()), error: z.string().nullable() }),
      }),
    )
    .query(async ({ ctx }) => {
      const { config } = ctx.ferry;
      let qemuImg;
      try {
        const c = await qemuImgSelfCheck();
        qemuImg = { ok: true, version: c.version, formats: c.formats, error: null };
      } catch (e) {
        qemuImg = { ok: false, version: null, formats: [], error: (e as Error).message };
      }
      const gf = guestfishVersion();
      const accel = await probeAccel();
      let accessible = false;
      try {
        accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
        accessible = true;
      } catch {
        accessible = false;
      }
      let virtioWin: { path: string | null; supports: string[]; error: string | null } = { path: config.virtioWin ?? null, supports: [], error: null };
      try {
        virtioWin = { ...virtioWin, supports: (await configuredVirtioWin(config.virtioWin ?? null))?.supports ?? [] };
      } catch (e) {
        if (!(e instanceof FerryError)) throw e;
        virtioWin = { ...virtioWin, error: e.message };
      }
      return {
        virtioWin,
        qemuImg,
        libguestfs: { ok: gf !== null, version: gf },
        // Whether KVM really works is only known by starting qemu (probed once per process).
        kvm: { device: existsSync("/dev/kvm"), accessible, accel: accel.kind, reason: accel.reason },
        outputs: await Promise.all(config.outputs.map(targetStatus)),
        dataDir: { path: config.dataDir, freeBytes: free(config.dataDir) },
        worker: { concurrency: config.concurrency, perShareLimit: config.perShareLimit },
      };
    }),
});
