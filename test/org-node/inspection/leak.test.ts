import { describe, expect, it } from 'vitest';
import {
  cardScheme,
  findLeaks,
  isCardNumber,
  isValidMyNumber,
  luhnValid,
  maskNumber,
  myNumberCheckDigit,
} from '../../../org-node/inspection/leak';
import { leakFindings } from '../../../org-node/inspection/leak';
import { digitStrings, luhnNumber } from './fixtures';

/** Independent formulation of the My Number check digit: weights 6,5,4,3,2,7,6,5,4,3,2 left to right. */
function expectedCheckDigit(first11: string): number {
  const w = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
  const sum = [...first11].reduce((s, d, i) => s + Number(d) * w[i]!, 0);
  const r = sum % 11;
  return r <= 1 ? 0 : 11 - r;
}

describe('My Number check digit', () => {
  it('matches the published example 123456789018', () => {
    expect(myNumberCheckDigit('12345678901')).toBe(8);
    expect(isValidMyNumber('123456789018')).toBe(true);
    expect(isValidMyNumber('123456789017')).toBe(false);
  });

  it('agrees with an independent formulation on 2000 generated numbers; every wrong check digit is refused', () => {
    for (const first11 of digitStrings(2000, 11, 42)) {
      const check = expectedCheckDigit(first11);
      expect(myNumberCheckDigit(first11)).toBe(check);
      expect(isValidMyNumber(`${first11}${check}`)).toBe(true);
      for (let d = 0; d < 10; d++) if (d !== check) expect(isValidMyNumber(`${first11}${d}`)).toBe(false);
    }
  });

  it('refuses other lengths and non-digits', () => {
    expect(isValidMyNumber('12345678901')).toBe(false);
    expect(isValidMyNumber('1234567890180')).toBe(false);
    expect(isValidMyNumber('12345678901a')).toBe(false);
    expect(() => myNumberCheckDigit('123')).toThrow(RangeError);
  });
});

describe('card numbers', () => {
  it('well-known test numbers of each scheme', () => {
    const known: [string, string][] = [
      ['4111111111111111', 'Visa'],
      ['4222222222222', 'Visa'],
      ['5555555555554444', 'Mastercard'],
      ['2223003122003222', 'Mastercard'],
      ['378282246310005', 'American Express'],
      ['3530111333300000', 'JCB'],
      ['30569309025904', 'Diners Club'],
      ['6011111111111117', 'Discover'],
      ['6200000000000005', 'UnionPay'],
    ];
    for (const [n, scheme] of known) {
      expect(luhnValid(n)).toBe(true);
      expect(cardScheme(n)).toBe(scheme);
      expect(isCardNumber(n)).toBe(true);
    }
  });

  it('generated numbers: valid Luhn in a known range passes; wrong Luhn, unknown IIN or wrong length fails', () => {
    const cases: [string, number][] = [['4', 16], ['53', 16], ['2720', 16], ['34', 15], ['3589', 16], ['3528', 19], ['36', 14], ['6011', 16], ['62', 19]];
    for (const [prefix, len] of cases) {
      for (let seed = 1; seed <= 50; seed++) {
        expect(isCardNumber(luhnNumber(prefix, len, seed))).toBe(true);
        expect(isCardNumber(luhnNumber(prefix, len, seed, false))).toBe(false);
      }
    }
    for (let seed = 1; seed <= 50; seed++) {
      expect(isCardNumber(luhnNumber('9', 16, seed))).toBe(false); // no scheme starts with 9
      expect(isCardNumber(luhnNumber('34', 16, seed))).toBe(false); // Amex is 15 digits
      expect(isCardNumber(luhnNumber('2721', 16, seed))).toBe(false); // just past Mastercard's 2-series
    }
  });
});

describe('findLeaks', () => {
  const myNumber = '123456789018';

  it('finds My Numbers contiguous, grouped, and in full-width digits; masks them', () => {
    for (const text of [`番号: ${myNumber}`, '番号 1234 5678 9018 です', '1234-5678-9018', '番号：１２３４５６７８９０１８']) {
      const m = findLeaks(text);
      expect(m, text).toEqual([{ rule: 'my-number', masked: '********9018' }]);
    }
  });

  it('ignores 12-digit numbers with a wrong check digit and digits inside longer runs', () => {
    expect(findLeaks('order 123456789017')).toEqual([]);
    expect(findLeaks('id 91234567890189')).toEqual([]);
  });

  it('finds card numbers with separators and names the scheme', () => {
    expect(findLeaks('card 4111 1111 1111 1111 exp 12/28')).toEqual([{ rule: 'card-number', masked: '************1111', scheme: 'Visa' }]);
    expect(findLeaks('amex 3782-822463-10005')).toEqual([{ rule: 'card-number', masked: '***********0005', scheme: 'American Express' }]);
  });

  it('phone numbers, dates, postal codes and amounts are not leaks', () => {
    expect(findLeaks('Tel 03-1234-5678, 〒100-0001, 2026-11-23, ¥1,234,567, 090 1234 5678')).toEqual([]);
  });

  it('labels: Japanese anywhere, ASCII as a whole word and case-sensitive; full-width letters count', () => {
    expect(findLeaks('【社外秘】 予算案').map((m) => m.rule)).toEqual(['label:社外秘']);
    expect(findLeaks('極秘資料').map((m) => m.rule)).toEqual(['label:極秘']);
    expect(findLeaks('Stamp: CONFIDENTIAL').map((m) => m.rule)).toEqual(['label:CONFIDENTIAL']);
    expect(findLeaks('ＣＯＮＦＩＤＥＮＴＩＡＬ').map((m) => m.rule)).toEqual(['label:CONFIDENTIAL']);
    expect(findLeaks('NONCONFIDENTIAL and CONFIDENTIALITY')).toEqual([]);
    expect(findLeaks('this is confidential')).toEqual([]);
  });

  it('rules are configurable', () => {
    const text = `【取扱注意】 ${myNumber} 4111111111111111 社外秘`;
    expect(findLeaks(text, { myNumber: false, cardNumbers: false, labels: ['取扱注意'] }).map((m) => m.rule)).toEqual(['label:取扱注意']);
    expect(findLeaks(text, { labels: [] }).map((m) => m.rule)).toEqual(['my-number', 'card-number']);
  });

  it('findings never contain the full number', () => {
    const card = luhnNumber('4', 16, 7);
    const f = leakFindings(findLeaks(`${myNumber} and ${card} and ${luhnNumber('5', 16, 3)}`), 'block');
    const json = JSON.stringify(f);
    expect(json).not.toContain(myNumber);
    expect(json).not.toContain(card);
    expect(f.map((x) => x.code)).toEqual(['leak-my-number', 'leak-card-number']);
    expect(f[1]!.message).toContain('(2 different numbers)');
    expect(maskNumber('1234567890')).toBe('******7890');
  });
});
