import { VpcdLink, type VpcdCard, type VpcdControl } from '../../native/virtual-card/vpcd-link';

/**
 * The smallest card that vpcd accepts: reports an ATR, records power events and answers every APDU
 * with a fixed response (default 90 00). Enough to prove the reader path; the PIV card lives in
 * native/virtual-card.
 */
export class MinimalCard implements VpcdCard {
  readonly controls: VpcdControl[] = [];
  apduCount = 0;

  constructor(
    readonly atrBytes: Uint8Array,
    readonly answer: (apdu: Uint8Array) => Uint8Array = () => Uint8Array.of(0x90, 0x00),
  ) {}

  atr(): Uint8Array {
    return this.atrBytes;
  }

  control(what: VpcdControl): void {
    this.controls.push(what);
  }

  transmit(apdu: Uint8Array): Uint8Array {
    this.apduCount++;
    return this.answer(apdu);
  }
}

/** Inserts a MinimalCard into the vpcd slot at host:port; close the returned link to remove it. */
export async function insertMinimalCard(
  vpcd: { host: string; port: number },
  atr: Uint8Array,
): Promise<{ card: MinimalCard; link: VpcdLink }> {
  const card = new MinimalCard(atr);
  const link = new VpcdLink(card, { ...vpcd, reconnect: false });
  await link.open();
  return { card, link };
}
