import { BadCardResponseError } from './errors';

/**
 * Command and response APDUs (ISO/IEC 7816-4 §5) and the two transport rules every PIV client
 * needs: responses longer than one frame come in 61xx pieces fetched with GET RESPONSE, and
 * commands longer than 255 bytes go out as a chain (CLA bit 0x10) of short APDUs.
 */
export interface CommandApdu {
  cla?: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  /** Expected response length; default 256 (Le = 00) when the command expects data. */
  le?: number;
}

export interface ResponseApdu {
  data: Uint8Array;
  sw: number;
}

/** Sends raw APDU bytes and returns raw response bytes (data + SW1 SW2). */
export interface ApduTransport {
  transmit(apdu: Uint8Array): Promise<Uint8Array>;
}

/** Per-exchange counters, so callers can report APDUs and host time per operation. */
export interface TransportStats {
  apdus: number;
  /** Time spent waiting on transmit (card + reader + pcscd). */
  transmitMs: number;
}

export function encodeShort(cmd: CommandApdu, chained = false): Uint8Array {
  const data = cmd.data ?? new Uint8Array();
  if (data.length > 255) throw new RangeError('short APDU data longer than 255 bytes');
  const head = [(cmd.cla ?? 0) | (chained ? 0x10 : 0), cmd.ins, cmd.p1, cmd.p2];
  const out: number[] = [...head];
  if (data.length > 0) out.push(data.length, ...data);
  if (cmd.le !== undefined && !chained) out.push(cmd.le >= 256 ? 0 : cmd.le);
  return Uint8Array.from(out);
}

export function splitResponse(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2)
    throw new BadCardResponseError(`response of ${bytes.length} bytes has no status word`);
  return {
    data: bytes.subarray(0, bytes.length - 2),
    sw: ((bytes[bytes.length - 2] as number) << 8) | (bytes[bytes.length - 1] as number),
  };
}

/**
 * Sends one logical command: chains it if the data is longer than 255 bytes, follows 61xx with
 * GET RESPONSE and 6Cxx with a resend carrying the right Le, and returns the whole response.
 */
export async function sendCommand(
  transport: ApduTransport,
  cmd: CommandApdu,
  stats?: TransportStats,
): Promise<ResponseApdu> {
  const tx = async (bytes: Uint8Array): Promise<ResponseApdu> => {
    const t = performance.now();
    try {
      return splitResponse(await transport.transmit(bytes));
    } finally {
      if (stats) {
        stats.apdus++;
        stats.transmitMs += performance.now() - t;
      }
    }
  };
  const data = cmd.data ?? new Uint8Array();
  let offset = 0;
  let res: ResponseApdu;
  for (;;) {
    const chunk = data.subarray(offset, offset + 255);
    const last = offset + 255 >= data.length;
    res = await tx(encodeShort({ ...cmd, data: chunk }, !last));
    offset += 255;
    if (last) break;
    if (res.sw !== 0x9000) return res; // the card refused a link of the chain
  }
  if ((res.sw & 0xff00) === 0x6c00) res = await tx(encodeShort({ ...cmd, le: res.sw & 0xff || 256 }));
  const parts: Uint8Array[] = [res.data];
  let guard = 0;
  while ((res.sw & 0xff00) === 0x6100) {
    if (++guard > 256) throw new BadCardResponseError('endless GET RESPONSE sequence');
    res = await tx(encodeShort({ cla: cmd.cla ?? 0, ins: 0xc0, p1: 0, p2: 0, le: res.sw & 0xff || 256 }));
    parts.push(res.data);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return { data: out, sw: res.sw };
}
