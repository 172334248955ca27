import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ICON_SIZES, drawIcon, encodePng, iconSvg } from '../../scripts/icon';

/** Decodes the PNGs scripts/icon.ts writes (8-bit RGBA, filter 0 on every row). */
function decode(png: Buffer): { width: number; height: number; rgba: Uint8Array } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let off = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString('ascii');
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([...data.subarray(8, 13)]).toEqual([8, 6, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba };
}

describe('the app icon', () => {
  it('the committed PNGs are what scripts/icon.ts draws (run scripts/make-icons.ts after changing it)', () => {
    for (const size of ICON_SIZES) {
      const png = decode(readFileSync(`build/icons/${size}x${size}.png`));
      expect([png.width, png.height]).toEqual([size, size]);
      expect(Buffer.from(png.rgba).equals(Buffer.from(drawIcon(size))), `${size}px`).toBe(true);
    }
    expect(readFileSync('build/icon.svg', 'utf8')).toBe(iconSvg());
  });

  it('draws a visible mark: transparent corners, blue field, white envelope, green seal', () => {
    const size = 64;
    const { rgba } = decode(encodePng(size, drawIcon(size)));
    const px = (x: number, y: number): number[] => [...rgba.subarray((y * size + x) * 4, (y * size + x) * 4 + 4)];
    expect(px(0, 0)[3]).toBe(0);
    expect(px(8, 32)).toEqual([31, 78, 140, 255]);
    expect(px(20, 38)).toEqual([255, 255, 255, 255]);
    expect(px(47, 52)).toEqual([46, 157, 87, 255]);
  });
});
