/**
 * A small LZMA decoder (after the LZMA SDK's reference decoder, LzmaSpec.cpp), used only to read the
 * packed file list ("encoded header") of 7z archives, which tells whether the archive's content is
 * encrypted. Whole output in memory, bounded by the caller's `unpackSize`; callers check the
 * result's CRC (7z stores it), so a damaged stream can never pass as a good header.
 */

export class LzmaError extends Error {}

const PROB_INIT = 1024;
const NUM_STATES = 12;
const POS_STATES_MAX = 16;
const END_POS_MODEL_INDEX = 14;
const NUM_FULL_DISTANCES = 128;
const MATCH_MIN_LEN = 2;

class RangeDecoder {
  private range = 0xffffffff;
  private code = 0;
  pos: number;

  constructor(
    private readonly input: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
    if (this.next() !== 0) throw new LzmaError('bad LZMA stream start');
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.next();
    if (this.code === this.range) throw new LzmaError('bad LZMA stream');
  }

  private next(): number {
    if (this.pos >= this.end) throw new LzmaError('LZMA stream truncated');
    return this.input[this.pos++]!;
  }

  private normalize(): void {
    if (this.range < 0x1000000) {
      this.range = this.range * 256;
      this.code = this.code * 256 + this.next();
    }
  }

  decodeDirectBits(numBits: number): number {
    let res = 0;
    for (let i = 0; i < numBits; i++) {
      this.range = Math.floor(this.range / 2);
      let bit = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        bit = 1;
      }
      this.normalize();
      res = res * 2 + bit;
    }
    return res;
  }

  decodeBit(probs: Uint16Array, i: number): number {
    const v = probs[i]!;
    const bound = (this.range >>> 11) * v;
    let bit: number;
    if (this.code < bound) {
      probs[i] = v + ((2048 - v) >>> 5);
      this.range = bound;
      bit = 0;
    } else {
      probs[i] = v - (v >>> 5);
      this.code -= bound;
      this.range -= bound;
      bit = 1;
    }
    this.normalize();
    return bit;
  }

  bitTree(probs: Uint16Array, offset: number, numBits: number): number {
    let m = 1;
    for (let i = 0; i < numBits; i++) m = (m << 1) + this.decodeBit(probs, offset + m);
    return m - (1 << numBits);
  }

  bitTreeReverse(probs: Uint16Array, offset: number, numBits: number): number {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < numBits; i++) {
      const bit = this.decodeBit(probs, offset + m);
      m = (m << 1) + bit;
      sym |= bit << i;
    }
    return sym;
  }
}

class LenDecoder {
  // choice, choice2, low[16] (8 each), mid[16] (8 each), high (256)
  private readonly probs = new Uint16Array(2 + POS_STATES_MAX * 8 * 2 + 256).fill(PROB_INIT);

  decode(rc: RangeDecoder, posState: number): number {
    if (rc.decodeBit(this.probs, 0) === 0) return rc.bitTree(this.probs, 2 + posState * 8, 3);
    if (rc.decodeBit(this.probs, 1) === 0) return 8 + rc.bitTree(this.probs, 2 + POS_STATES_MAX * 8 + posState * 8, 3);
    return 16 + rc.bitTree(this.probs, 2 + POS_STATES_MAX * 16, 8);
  }
}

/**
 * Decodes a raw LZMA stream (as 7z stores it: no .lzma header) with the 5 property bytes of its
 * coder, to exactly `unpackSize` bytes.
 */
export function lzmaDecode(props: Uint8Array, input: Uint8Array, unpackSize: number): Uint8Array {
  if (props.length < 5) throw new LzmaError('bad LZMA properties');
  let d = props[0]!;
  if (d >= 9 * 5 * 5) throw new LzmaError('bad LZMA properties');
  const lc = d % 9;
  d = Math.floor(d / 9);
  const lp = d % 5;
  const pb = Math.floor(d / 5);
  const dictSize = (props[1]! | (props[2]! << 8) | (props[3]! << 16)) + props[4]! * 0x1000000;

  const out = new Uint8Array(unpackSize);
  let pos = 0;
  const rc = new RangeDecoder(input, 0, input.length);
  const lit = new Uint16Array(0x300 << (lc + lp)).fill(PROB_INIT);
  const isMatch = new Uint16Array(NUM_STATES << 4).fill(PROB_INIT);
  const isRep = new Uint16Array(NUM_STATES).fill(PROB_INIT);
  const isRepG0 = new Uint16Array(NUM_STATES).fill(PROB_INIT);
  const isRepG1 = new Uint16Array(NUM_STATES).fill(PROB_INIT);
  const isRepG2 = new Uint16Array(NUM_STATES).fill(PROB_INIT);
  const isRep0Long = new Uint16Array(NUM_STATES << 4).fill(PROB_INIT);
  const posSlot = new Uint16Array(4 << 6).fill(PROB_INIT);
  const posDecoders = new Uint16Array(1 + NUM_FULL_DISTANCES - END_POS_MODEL_INDEX).fill(PROB_INIT);
  const align = new Uint16Array(1 << 4).fill(PROB_INIT);
  const lenDecoder = new LenDecoder();
  const repLenDecoder = new LenDecoder();
  const pbMask = (1 << pb) - 1;
  const lpMask = (1 << lp) - 1;

  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;

  const decodeDistance = (len: number): number => {
    const lenState = Math.min(len, 3);
    const slot = rc.bitTree(posSlot, lenState << 6, 6);
    if (slot < 4) return slot;
    const numDirectBits = (slot >>> 1) - 1;
    let dist = (2 | (slot & 1)) * 2 ** numDirectBits;
    if (slot < END_POS_MODEL_INDEX) {
      dist += rc.bitTreeReverse(posDecoders, dist - slot, numDirectBits);
    } else {
      dist += rc.decodeDirectBits(numDirectBits - 4) * 16;
      dist += rc.bitTreeReverse(align, 0, 4);
    }
    return dist;
  };

  while (pos < unpackSize) {
    const posState = pos & pbMask;
    if (rc.decodeBit(isMatch, (state << 4) + posState) === 0) {
      const prev = pos > 0 ? out[pos - 1]! : 0;
      const base = 0x300 * (((pos & lpMask) << lc) + (prev >>> (8 - lc)));
      let symbol = 1;
      if (state >= 7) {
        if (rep0 + 1 > pos) throw new LzmaError('bad LZMA distance');
        let matchByte = out[pos - rep0 - 1]!;
        while (symbol < 0x100) {
          const matchBit = (matchByte >>> 7) & 1;
          matchByte <<= 1;
          const bit = rc.decodeBit(lit, base + ((1 + matchBit) << 8) + symbol);
          symbol = (symbol << 1) | bit;
          if (matchBit !== bit) break;
        }
      }
      while (symbol < 0x100) symbol = (symbol << 1) | rc.decodeBit(lit, base + symbol);
      out[pos++] = symbol - 0x100;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    let len: number;
    if (rc.decodeBit(isRep, state) !== 0) {
      if (pos === 0) throw new LzmaError('bad LZMA stream');
      if (rc.decodeBit(isRepG0, state) === 0) {
        if (rc.decodeBit(isRep0Long, (state << 4) + posState) === 0) {
          state = state < 7 ? 9 : 11;
          if (rep0 + 1 > pos) throw new LzmaError('bad LZMA distance');
          out[pos] = out[pos - rep0 - 1]!;
          pos++;
          continue;
        }
      } else {
        let dist: number;
        if (rc.decodeBit(isRepG1, state) === 0) {
          dist = rep1;
        } else {
          if (rc.decodeBit(isRepG2, state) === 0) {
            dist = rep2;
          } else {
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      len = repLenDecoder.decode(rc, posState);
      state = state < 7 ? 8 : 11;
    } else {
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      len = lenDecoder.decode(rc, posState);
      state = state < 7 ? 7 : 10;
      rep0 = decodeDistance(len);
      if (rep0 === 0xffffffff) throw new LzmaError('LZMA end marker before the expected size');
      if (rep0 >= dictSize || rep0 + 1 > pos) throw new LzmaError('bad LZMA distance');
    }
    len += MATCH_MIN_LEN;
    if (pos + len > unpackSize) throw new LzmaError('LZMA data longer than declared');
    for (let i = 0; i < len; i++, pos++) out[pos] = out[pos - rep0 - 1]!;
  }
  return out;
}
