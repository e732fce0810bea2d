import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { macEvidence } from "./pcap";
import { parsePpm, thumbnail, toPpm } from "./image";
import { judgeBlueScreen, judgeNetworkUp } from "./windows-boot";

/** Fixtures: drawn and built by test/fixtures/make-windows-boot-fixtures.ts (no Windows runs here). */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/windows/${name}`, import.meta.url));
const GUEST = "00:50:56:aa:bb:01";

describe("blue screen detection on screenshots", () => {
  it("a Windows 10 stop screen is blue, in Windows 10's colour", () => {
    const v = judgeBlueScreen(parsePpm(fixture("bsod-win10.ppm")));
    expect(v.blue).toBe(true);
    expect(v.colour).toBe("Windows 10/11 blue");
    expect(v.fraction).toBeGreaterThan(0.8);
  });

  it("a classic (Windows 7) stop screen is blue too", () => {
    expect(judgeBlueScreen(parsePpm(fixture("bsod-classic.ppm")))).toMatchObject({ blue: true, colour: "classic blue (Windows 7 and earlier)" });
  });

  it("the boot logo (blue squares on black) and a blue wallpaper gradient are not", () => {
    const logo = judgeBlueScreen(parsePpm(fixture("boot-logo.ppm")));
    expect(logo.blue).toBe(false);
    expect(logo.fraction).toBeGreaterThan(0.03); // it has the colour, on too little of the screen
    expect(judgeBlueScreen(parsePpm(fixture("lockscreen.ppm"))).blue).toBe(false);
  });

  it("a thumbnail keeps the verdict and shrinks the image", () => {
    const t = thumbnail(parsePpm(fixture("bsod-win10.ppm")), 100);
    expect([t.width, t.height]).toEqual([100, 75]);
    expect(judgeBlueScreen(parsePpm(toPpm(t))).blue).toBe(true);
  });

  it("a file that is not a P6 PPM is refused", () => {
    expect(() => parsePpm(Buffer.from("P3\n1 1\n255\n0 0 0\n"))).toThrow(/not an 8-bit P6 PPM/);
    expect(() => parsePpm(Buffer.from("P6\n100 100\n255\nshort"))).toThrow(/not an 8-bit P6 PPM/);
  });
});

describe("network proof by MAC on packet captures", () => {
  it("Windows' DHCP DISCOVER from the guest's MAC proves the boot", () => {
    expect(judgeNetworkUp(macEvidence(fixture("dhcp-discover.pcap")), [{ mac: GUEST.toUpperCase() }])).toEqual({ mac: GUEST, how: "sent a DHCP request" });
  });

  it("an ARP announcement of the guest's static address proves it; the duplicate-address probe alone does not", () => {
    expect(judgeNetworkUp(macEvidence(fixture("static-arp.pcap")), [{ mac: GUEST, staticAddress: "192.168.50.20/24" }])).toEqual({ mac: GUEST, how: "announced 192.168.50.20" });
    expect(judgeNetworkUp(macEvidence(fixture("arp-probe-only.pcap")), [{ mac: GUEST, staticAddress: "192.168.50.20/24" }])).toBeNull();
    // Another address than the one the guest had is not its static one.
    expect(judgeNetworkUp(macEvidence(fixture("static-arp.pcap")), [{ mac: GUEST, staticAddress: "10.0.0.5/24" }])).toBeNull();
  });

  it("another MAC's DHCP request does not prove this guest's boot", () => {
    expect(judgeNetworkUp(macEvidence(fixture("other-mac-dhcp.pcap")), [{ mac: GUEST }])).toBeNull();
    expect(judgeNetworkUp(macEvidence(Buffer.alloc(0)), [{ mac: GUEST }])).toBeNull();
  });
});
