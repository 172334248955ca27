/**
 * A PC/SC client in its own process. libpcsclite reads PCSCLITE_CSOCK_NAME once per process, so a
 * test that talks to a private pcscd runs its checks here, with that instance's env.
 *
 *   tsx test/harness/pcsc-probe.ts status <reader> <present|empty> [timeoutMs]
 *   tsx test/harness/pcsc-probe.ts bench <reader> <count> <apduHex>
 * Prints one JSON line on stdout.
 */
import pcsclite from '@pokusew/pcsclite';

type Reader = Parameters<Parameters<ReturnType<typeof pcsclite>['on']>[1]>[0];

const [mode, readerName, arg3, arg4] = process.argv.slice(2);
const pcsc = pcsclite();
const seen = new Set<string>();

function finish(result: unknown, code = 0): never {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  pcsc.close();
  process.exit(code);
}

const timeoutMs = Number(mode === 'status' ? (arg4 ?? 10_000) : 30_000);
setTimeout(() => finish({ error: 'timeout', readers: [...seen] }, 2), timeoutMs).unref();
pcsc.on('error', (err: unknown) => finish({ error: String(err) }, 2));

pcsc.on('reader', (reader: Reader) => {
  seen.add(reader.name);
  if (reader.name !== readerName) return;
  reader.on('error', (err: unknown) => finish({ error: String(err) }, 2));
  reader.on('status', (status: { state: number; atr?: Buffer }) => {
    const present = (status.state & reader.SCARD_STATE_PRESENT) !== 0;
    const empty = (status.state & reader.SCARD_STATE_EMPTY) !== 0;
    if (mode === 'status') {
      if ((arg3 === 'present' && present) || (arg3 === 'empty' && empty)) {
        finish({
          readers: [...seen],
          reader: reader.name,
          present,
          empty,
          state: status.state,
          atr: status.atr && status.atr.length > 0 ? status.atr.toString('hex') : null,
        });
      }
      return;
    }
    if (mode === 'bench' && present) void bench(reader, Number(arg3), Buffer.from(arg4 ?? '', 'hex'));
  });
});

let benchStarted = false;
async function bench(reader: Reader, count: number, apdu: Buffer): Promise<void> {
  if (benchStarted) return;
  benchStarted = true;
  const protocol = await new Promise<number>((resolve, reject) =>
    reader.connect({ share_mode: reader.SCARD_SHARE_EXCLUSIVE }, (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const transmit = (): Promise<Buffer> =>
    new Promise((resolve, reject) =>
      reader.transmit(apdu, 258, protocol, (err, res) => (err ? reject(err) : resolve(res))),
    );
  await transmit(); // warm-up: first APDU after connect
  const times: number[] = [];
  let last: Buffer = Buffer.alloc(0);
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    last = await transmit();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  await new Promise<void>((resolve) => reader.disconnect(reader.SCARD_LEAVE_CARD, () => resolve()));
  finish({
    count,
    meanMs: mean,
    medianMs: times[Math.floor(times.length / 2)],
    maxMs: times[times.length - 1],
    lastResponse: last.toString('hex'),
  });
}
