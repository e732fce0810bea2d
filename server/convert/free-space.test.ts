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
