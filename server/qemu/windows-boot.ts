import type { Image } from "./image";
import type { MacEvidence } from "./pcap";

/**
 * The boot check for guests without a serial console (Windows): the guest
 * is up when its NIC, found by its MAC, asks for an address by DHCP or
 * announces one by ARP; it has failed when the screen is a blue screen (a
 * Windows stop error such as INACCESSIBLE_BOOT_DEVICE). Pure: captures and
 * screenshots in, verdicts out.
 */


/** The backgrounds of Windows' stop screens. */
export const STOP_SCREEN_COLOURS = [
  { name: "Windows 10/11 blue", rgb: [0x00, 0x78, 0xd7] },
  { name: "Windows 8 blue", rgb: [0x10, 0x71, 0xaa] },
  { name: "classic blue (Windows 7 and earlier)", rgb: [0x00, 0x00, 0xaa] },
  { name: "classic navy", rgb: [0x00, 0x00, 0x80] },
] as const;

export interface BlueScreenVerdict {
  blue: boolean;
  /** The share of the screen in the most common stop-screen colour (0..1). */
  fraction: number;
  colour: string | null;
}

/**
 * A blue screen fills most of the screen with one stop-screen colour (the
 * text covers little). Wallpapers and logos are gradients or small: a
 * colour within ±24 per channel must cover at least 60 % of the pixels.
 */
export function judgeBlueScreen(img: Image, threshold = 0.6): BlueScreenVerdict {
  const counts = STOP_SCREEN_COLOURS.map(() => 0);
  const n = img.width * img.height;
  // Every pixel of a small screen; a sample of a big one.
  const step = Math.max(1, Math.floor(n / 200_000));
  let seen = 0;
  for (let i = 0; i < n; i += step) {
    const r = img.rgb[i * 3]!;
    const g = img.rgb[i * 3 + 1]!;
    const b = img.rgb[i * 3 + 2]!;
    seen++;
    STOP_SCREEN_COLOURS.forEach((c, k) => {
      if (Math.abs(r - c.rgb[0]) <= 24 && Math.abs(g - c.rgb[1]) <= 24 && Math.abs(b - c.rgb[2]) <= 24) counts[k]!++;
    });
  }
  let best = 0;
  counts.forEach((c, k) => {
    if (c > counts[best]!) best = k;
  });
  const fraction = seen ? counts[best]! / seen : 0;
  return { blue: fraction >= threshold, fraction: Math.round(fraction * 1000) / 1000, colour: fraction >= threshold ? STOP_SCREEN_COLOURS[best]!.name : null };
}

export interface NetworkProof {
  mac: string;
  how: string;
}

/**
 * The guest is up when one of its NICs (by MAC) sent a DHCP request, or
 * announced an IPv4 address: its static one when the guest had one, else any.
 */
export function judgeNetworkUp(evidence: Map<string, MacEvidence>, nics: Array<{ mac: string; staticAddress?: string | null }>): NetworkProof | null {
  for (const n of nics) {
    const e = evidence.get(n.mac.toLowerCase());
    if (!e) continue;
    if (e.dhcp) return { mac: n.mac.toLowerCase(), how: "sent a DHCP request" };
    const want = n.staticAddress ? n.staticAddress.split("/")[0]! : null;
    const got = want ? e.addresses.find((a) => a === want) : e.addresses[0];
    if (got) return { mac: n.mac.toLowerCase(), how: `announced ${got}` };
  }
  return null;
}
