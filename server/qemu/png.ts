import { deflateSync } from "node:zlib";
import { FerryError } from "../errors";

/**
 * qemu's screendump writes PPM (P6); browsers show PNG. A PNG encoder is
 * a dozen lines: RGB rows, filter 0, one zlib stream.
 */

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

export function ppmToPng(ppm: Buffer): Buffer {
  // Header: P6, width, height, maxval, each separated by whitespace (comments allowed).
  const tokens: string[] = [];
  let p = 0;
  while (tokens.length < 4 && p < ppm.length) {
    while (p < ppm.length && /\s/.test(String.fromCharCode(ppm[p]!))) p++;
    if (ppm[p] === 0x23) {
      while (p < ppm.length && ppm[p] !== 0x0a) p++;
      continue;
    }
    let t = "";
    while (p < ppm.length && !/\s/.test(String.fromCharCode(ppm[p]!))) t += String.fromCharCode(ppm[p++]!);
    tokens.push(t);
  }
  p++; // the single whitespace after maxval
  const [magic, w, h, max] = [tokens[0], Number(tokens[1]), Number(tokens[2]), Number(tokens[3])];
  if (magic !== "P6" || !(w > 0) || !(h > 0) || max !== 255 || ppm.length - p < w * h * 3) {
    throw new FerryError({ code: "png.ppm", message: "the screenshot is not an 8-bit P6 PPM image", file: null, hint: null });
  }
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) ppm.copy(raw, y * (w * 3 + 1) + 1, p + y * w * 3, p + (y + 1) * w * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
