import { randomBytes } from 'node:crypto';

/**
 * ECDSA on P-256 over a digest the host already computed (SP 800-73-4 GENERAL AUTHENTICATE gives
 * the card the hash, not the message). node:crypto only signs messages it hashes itself, so the
 * virtual card does the curve arithmetic here (Jacobian coordinates, BigInt). Test use only: not
 * constant time.
 */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

type Jacobian = [bigint, bigint, bigint];

const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};

function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

const inv = (a: bigint, m: bigint): bigint => modPow(a, m - 2n, m);

function double([x, y, z]: Jacobian): Jacobian {
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const yy = (y * y) % P;
  const s = (4n * x * yy) % P;
  const zz = (z * z) % P;
  // a = -3: M = 3 (X - Z^2)(X + Z^2)
  const m = (3n * mod(x - zz, P) * ((x + zz) % P)) % P;
  const x3 = mod(m * m - 2n * s, P);
  const y3 = mod(m * mod(s - x3, P) - 8n * yy * yy, P);
  const z3 = (2n * y * z) % P;
  return [x3, y3, z3];
}

function add(p: Jacobian, q: Jacobian): Jacobian {
  if (p[2] === 0n) return q;
  if (q[2] === 0n) return p;
  const [x1, y1, z1] = p;
  const [x2, y2, z2] = q;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (y1 * z2 * z2z2) % P;
  const s2 = (y2 * z1 * z1z1) % P;
  if (u1 === u2) return s1 === s2 ? double(p) : [0n, 1n, 0n];
  const h = mod(u2 - u1, P);
  const r = mod(s2 - s1, P);
  const hh = (h * h) % P;
  const hhh = (h * hh) % P;
  const v = (u1 * hh) % P;
  const x3 = mod(r * r - hhh - 2n * v, P);
  const y3 = mod(r * mod(v - x3, P) - s1 * hhh, P);
  const z3 = (z1 * z2 * h) % P;
  return [x3, y3, z3];
}

function multiply(k: bigint, point: Jacobian): Jacobian {
  let result: Jacobian = [0n, 1n, 0n];
  let addend = point;
  let e = k;
  while (e > 0n) {
    if (e & 1n) result = add(result, addend);
    addend = double(addend);
    e >>= 1n;
  }
  return result;
}

function affineX([x, , z]: Jacobian): bigint {
  const zi = inv(z, P);
  return (x * zi * zi) % P;
}

const toBig = (b: Uint8Array): bigint =>
  b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);

function derInt(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.of(0), body]);
  return Buffer.concat([Buffer.of(0x02, body.length), body]);
}

/** Signs a digest (truncated to 256 bits, FIPS 186-4 §6.4) with private scalar `d`; returns DER Ecdsa-Sig-Value. */
export function ecdsaP256SignDigest(d: Uint8Array, digest: Uint8Array): Uint8Array {
  const e = toBig(digest.subarray(0, 32));
  const priv = toBig(d);
  for (;;) {
    const k = mod(toBig(randomBytes(40)), N - 1n) + 1n;
    const r = mod(affineX(multiply(k, [GX, GY, 1n])), N);
    if (r === 0n) continue;
    const s = mod(inv(k, N) * (e + r * priv), N);
    if (s === 0n) continue;
    const seq = Buffer.concat([derInt(r), derInt(s)]);
    return new Uint8Array(Buffer.concat([Buffer.of(0x30, seq.length), seq]));
  }
}
