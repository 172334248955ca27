import { deflateSync } from 'node:zlib';

/**
 * The SSMAX icon, drawn from a few shapes in a 512×512 design space: a blue rounded square, a white
 * envelope, and a green seal with a check mark (a signed, verified mail). The same shapes give the
 * SVG (build/icon.svg) and the PNGs electron-builder needs (build/icons/<n>x<n>.png), rasterised
 * here with 4×4 supersampling — no image tool needed (scripts/make-icons.ts writes them;
 * test/scripts/icon.test.ts checks the committed files are what this draws).
 */
export const ICON_SIZES = [16, 32, 48, 64, 128, 256, 512] as const;

type Rgba = readonly [number, number, number, number];
type Point = readonly [number, number];
type Shape =
  | { kind: 'roundRect'; x0: number; y0: number; x1: number; y1: number; r: number; fill: Rgba }
  | { kind: 'polygon'; points: readonly Point[]; fill: Rgba }
  | { kind: 'circle'; cx: number; cy: number; r: number; fill: Rgba }
  | { kind: 'stroke'; points: readonly Point[]; width: number; fill: Rgba };

const BLUE: Rgba = [31, 78, 140, 255];
const WHITE: Rgba = [255, 255, 255, 255];
const FLAP: Rgba = [201, 216, 238, 255];
const GREEN: Rgba = [46, 157, 87, 255];

const SHAPES: readonly Shape[] = [
  { kind: 'roundRect', x0: 32, y0: 32, x1: 480, y1: 480, r: 96, fill: BLUE },
  { kind: 'roundRect', x0: 96, y0: 144, x1: 400, y1: 352, r: 20, fill: WHITE },
  { kind: 'polygon', points: [[104, 152], [392, 152], [248, 268]], fill: FLAP },
  { kind: 'circle', cx: 376, cy: 368, r: 100, fill: WHITE },
  { kind: 'circle', cx: 376, cy: 368, r: 84, fill: GREEN },
  { kind: 'stroke', points: [[330, 370], [362, 402], [422, 336]], width: 26, fill: WHITE },
];

function distToSegment(x: number, y: number, [ax, ay]: Point, [bx, by]: Point): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

function contains(s: Shape, x: number, y: number): boolean {
  switch (s.kind) {
    case 'roundRect': {
      if (x < s.x0 || x > s.x1 || y < s.y0 || y > s.y1) return false;
      const cx = Math.max(s.x0 + s.r, Math.min(s.x1 - s.r, x));
      const cy = Math.max(s.y0 + s.r, Math.min(s.y1 - s.r, y));
      return Math.hypot(x - cx, y - cy) <= s.r;
    }
    case 'circle':
      return Math.hypot(x - s.cx, y - s.cy) <= s.r;
    case 'polygon': {
      let inside = false;
      for (let i = 0, j = s.points.length - 1; i < s.points.length; j = i++) {
        const [xi, yi] = s.points[i]!;
        const [xj, yj] = s.points[j]!;
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
      return inside;
    }
    case 'stroke':
      return s.points.slice(1).some((p, i) => distToSegment(x, y, s.points[i]!, p) <= s.width / 2);
  }
}

/** RGBA pixels (row-major, straight alpha) of the icon at `size`×`size`. */
export function drawIcon(size: number): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  const n = 4;
  const scale = 512 / size;
  for (let py = 0; py < size; py++)
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++)
        for (let sx = 0; sx < n; sx++) {
          const x = (px + (sx + 0.5) / n) * scale;
          const y = (py + (sy + 0.5) / n) * scale;
          let c: Rgba | undefined;
          for (const s of SHAPES) if (contains(s, x, y)) c = s.fill;
          if (c) {
            r += c[0];
            g += c[1];
            b += c[2];
            a += 255;
          }
        }
      const o = (py * size + px) * 4;
      const covered = a / 255;
      out[o] = covered ? Math.round(r / covered) : 0;
      out[o + 1] = covered ? Math.round(g / covered) : 0;
      out[o + 2] = covered ? Math.round(b / covered) : 0;
      out[o + 3] = Math.round(a / (n * n));
    }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A PNG (8-bit RGBA, no filtering) of square RGBA pixels. */
export function encodePng(size: number, rgba: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) raw.set(rgba.subarray(y * size * 4, (y + 1) * size * 4), y * (size * 4 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const hex = (c: Rgba): string => `#${[c[0], c[1], c[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

/** The same shapes as SVG. */
export function iconSvg(): string {
  const el = SHAPES.map((s) => {
    switch (s.kind) {
      case 'roundRect':
        return `<rect x="${s.x0}" y="${s.y0}" width="${s.x1 - s.x0}" height="${s.y1 - s.y0}" rx="${s.r}" fill="${hex(s.fill)}"/>`;
      case 'circle':
        return `<circle cx="${s.cx}" cy="${s.cy}" r="${s.r}" fill="${hex(s.fill)}"/>`;
      case 'polygon':
        return `<polygon points="${s.points.map((p) => p.join(',')).join(' ')}" fill="${hex(s.fill)}"/>`;
      case 'stroke':
        return `<polyline points="${s.points.map((p) => p.join(',')).join(' ')}" fill="none" stroke="${hex(s.fill)}" stroke-width="${s.width}" stroke-linecap="round" stroke-linejoin="round"/>`;
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">\n  <title>SSMAX</title>\n  ${el.join('\n  ')}\n</svg>\n`;
}
