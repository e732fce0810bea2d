import { FerryError } from "../errors";

/**
 * A screenshot as pixels: qemu's screendump writes PPM (P6); the boot
 * check judges pixels, shrinks them for the job page and encodes PNG
 * (png.ts).
 */

export interface Image {
  width: number;
  height: number;
  /** RGB, 3 bytes a pixel, rows top to bottom. */
  rgb: Buffer;
}

/** qemu's screendump: binary PPM (P6, maxval 255). */
export function parsePpm(ppm: Buffer): Image {
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
  p++;
  const [magic, width, height, max] = [tokens[0], Number(tokens[1]), Number(tokens[2]), Number(tokens[3])];
  if (magic !== "P6" || !(width > 0) || !(height > 0) || width > 16384 || height > 16384 || max !== 255 || ppm.length - p < width * height * 3) {
    throw new FerryError({ code: "png.ppm", message: "the screenshot is not an 8-bit P6 PPM image", file: null, hint: null });
  }
  return { width, height, rgb: ppm.subarray(p, p + width * height * 3) };
}

export function toPpm(img: Image): Buffer {
  return Buffer.concat([Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, "latin1"), img.rgb]);
}

/** A smaller copy (nearest pixel) for the job page's strip of boot screenshots. */
export function thumbnail(img: Image, maxWidth: number): Image {
  if (img.width <= maxWidth) return img;
  const width = maxWidth;
  const height = Math.max(1, Math.round((img.height * maxWidth) / img.width));
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor((y * img.height) / height);
    for (let x = 0; x < width; x++) {
      const sx = Math.floor((x * img.width) / width);
      img.rgb.copy(rgb, (y * width + x) * 3, (sy * img.width + sx) * 3, (sy * img.width + sx) * 3 + 3);
    }
  }
  return { width, height, rgb };
}
