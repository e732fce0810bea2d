import { describe, expect, it } from "vitest";
import { checkGuestFreeSpace } from "./free-space";

const fs = (mountpoint: string, freeMB: number, freeInodes = 10_000) => ({ mountpoint, device: `/dev/sda${mountpoint.length}`, sizeBytes: 10e9, freeBytes: freeMB * 1e6, inodes: 100_000, freeInodes });

describe("checkGuestFreeSpace (virt-v2v's minimums)", () => {
  it("passes at the minimums: / 100 MB, /boot 50 MB, others 10 MB", () => {
    expect(() => checkGuestFreeSpace([fs("/", 100), fs("/boot", 50), fs("/var", 10)])).not.toThrow();
  });

  it("names the filesystem that falls short, with its figures and what to do", () => {
    expect(() => checkGuestFreeSpace([fs("/", 500), fs("/boot", 49)])).toThrow(/guest's \/boot filesystem \(\/dev\/sda5\) has 47 MiB free; the conversion needs at least 48 MiB there/);
    expect(() => checkGuestFreeSpace([fs("/", 99)])).toThrow(/guest's \/ filesystem/);
    expect(() => checkGuestFreeSpace([fs("/home", 9)])).toThrow(/\/home/);
  });

  it("needs 100 free inodes everywhere", () => {
    expect(() => checkGuestFreeSpace([fs("/", 500, 99)])).toThrow(/99 free inodes; the conversion needs at least 100/);
    expect(() => checkGuestFreeSpace([{ ...fs("/vfat", 500, 0), inodes: 0 }])).not.toThrow();
  });
});

describe("judgeFsCheck", () => {
  it("tells clean, damaged and a dirty log apart for e2fsck -n and xfs_repair -n", async () => {
    const { judgeFsCheck } = await import("./inspect");
    expect(judgeFsCheck("ext4", "e2fsck 1.47.0\nPass 1: Checking inodes\n/dev/sda1: 11/16384 files\nferry-rc=0").result).toBe("clean");
    const bad = judgeFsCheck("ext4", "e2fsck 1.47.0\nPass 1: Checking inodes\nInode 12 has illegal block(s).  Clear? no\n\n/dev/sda1: ********** WARNING: Filesystem still has errors **********\nferry-rc=4");
    expect(bad).toMatchObject({ result: "damaged", detail: expect.stringContaining("Inode 12 has illegal block(s)") });
    expect(judgeFsCheck("ext4", "Warning: skipping journal recovery because doing a read-only filesystem check.\nferry-rc=4").result).toBe("dirty-log");
    expect(judgeFsCheck("xfs", "Phase 1 - find and verify superblock...\nNo modify flag set, skipping filesystem flush and exiting.\nferry-rc=0").result).toBe("clean");
    expect(judgeFsCheck("xfs", "ERROR: The filesystem has valuable metadata changes in a log which needs to be replayed.\nferry-rc=2").result).toBe("dirty-log");
    expect(judgeFsCheck("xfs", "Phase 1 - find and verify superblock...\nbad magic number 0x0 on inode 128\nferry-rc=1")).toMatchObject({ result: "damaged", detail: expect.stringContaining("bad magic number") });
    expect(judgeFsCheck("ext4", "no marker").result).toBe("damaged");
    expect(judgeFsCheck("ext4", "no UUID to name /dev/sda1 by\nferry-rc=unchecked")).toEqual({ result: "not-checked", detail: "no UUID to name /dev/sda1 by" });
  });
});
