import type { Finding, LeakAction, LeakRules } from './types';

/**
 * Outbound leak rules: Japanese individual numbers (My Number), payment card numbers and
 * confidentiality labels. Text is NFKC-normalised first, so full-width digits (１２３４) and letters
 * count. A finding names the rule and shows the number masked (last four digits only).
 */

export const DEFAULT_LEAK_LABELS: readonly string[] = ['社外秘', '極秘', 'CONFIDENTIAL'];

export const DEFAULT_LEAK_RULES: Required<LeakRules> = {
  myNumber: true,
  cardNumbers: true,
  labels: DEFAULT_LEAK_LABELS,
  action: 'block',
};

/**
 * Check digit of a My Number (個人番号) from its first 11 digits (「行政手続における特定の個人を識別す
 * るための番号の利用等に関する法律施行令」第八条): P(n) is the n-th of the 11 digits counted from
 * the right, Q(n) = n + 1 for n ≤ 6 and n − 5 for n ≥ 7; r = Σ P(n)·Q(n) mod 11; the check digit
 * is 0 when r ≤ 1, else 11 − r.
 */
export function myNumberCheckDigit(first11: string): number {
  if (!/^[0-9]{11}$/.test(first11)) throw new RangeError('a My Number check digit needs exactly 11 digits');
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = first11.charCodeAt(11 - n) - 48;
    const q = n <= 6 ? n + 1 : n - 5;
    sum += p * q;
  }
  const r = sum % 11;
  return r <= 1 ? 0 : 11 - r;
}

export function isValidMyNumber(digits: string): boolean {
  return /^[0-9]{12}$/.test(digits) && myNumberCheckDigit(digits.slice(0, 11)) === digits.charCodeAt(11) - 48;
}

export function luhnValid(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

interface CardScheme {
  readonly name: string;
  /** Inclusive prefix ranges, compared on the first digits (same length as the bounds). */
  readonly ranges: readonly (readonly [string, string])[];
  readonly lengths: readonly number[];
}

/** Issuer identification ranges and lengths of the schemes accepted in Japan. */
const CARD_SCHEMES: readonly CardScheme[] = [
  { name: 'Visa', ranges: [['4', '4']], lengths: [13, 16, 19] },
  { name: 'Mastercard', ranges: [['51', '55'], ['2221', '2720']], lengths: [16] },
  { name: 'American Express', ranges: [['34', '34'], ['37', '37']], lengths: [15] },
  { name: 'JCB', ranges: [['3528', '3589']], lengths: [16, 17, 18, 19] },
  { name: 'Diners Club', ranges: [['300', '305'], ['36', '36'], ['38', '39']], lengths: [14, 15, 16, 17, 18, 19] },
  { name: 'Discover', ranges: [['6011', '6011'], ['644', '649'], ['65', '65']], lengths: [16, 17, 18, 19] },
  { name: 'UnionPay', ranges: [['62', '62']], lengths: [16, 17, 18, 19] },
];

/** The card scheme a number belongs to (IIN range and length), or undefined. Luhn is checked separately. */
export function cardScheme(digits: string): string | undefined {
  for (const s of CARD_SCHEMES) {
    if (!s.lengths.includes(digits.length)) continue;
    for (const [lo, hi] of s.ranges) {
      const prefix = digits.slice(0, lo.length);
      if (prefix >= lo && prefix <= hi) return s.name;
    }
  }
  return undefined;
}

export function isCardNumber(digits: string): boolean {
  return cardScheme(digits) !== undefined && luhnValid(digits);
}

/** All but the last four digits replaced: "************1111". */
export function maskNumber(digits: string): string {
  return '*'.repeat(Math.max(0, digits.length - 4)) + digits.slice(-4);
}

/** Digit runs: contiguous (12–19 digits), or groups joined by one consistent space or hyphen. */
const CANDIDATES = /(?<![0-9])(?:[0-9]{12,19}|[0-9]{4}([ -])[0-9]{4,6}(?:\1[0-9]{1,6}){1,3})(?![0-9])/g;

export interface LeakMatch {
  readonly rule: 'my-number' | 'card-number' | `label:${string}`;
  readonly masked: string;
  readonly scheme?: string;
}

function isAsciiWordChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_]/.test(c);
}

/** Leak matches in `text` (already decoded), deduplicated per rule and value. */
export function findLeaks(text: string, rules: LeakRules = {}): LeakMatch[] {
  const r = { ...DEFAULT_LEAK_RULES, ...rules };
  const norm = text.normalize('NFKC');
  const out: LeakMatch[] = [];
  const seen = new Set<string>();
  const add = (m: LeakMatch, key: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(m);
  };
  if (r.myNumber || r.cardNumbers) {
    for (const m of norm.matchAll(CANDIDATES)) {
      const digits = m[0].replace(/[ -]/g, '');
      if (r.myNumber && digits.length === 12 && isValidMyNumber(digits)) add({ rule: 'my-number', masked: maskNumber(digits) }, `m:${digits}`);
      else if (r.cardNumbers && isCardNumber(digits)) add({ rule: 'card-number', masked: maskNumber(digits), scheme: cardScheme(digits)! }, `c:${digits}`);
    }
  }
  for (const raw of r.labels) {
    const label = raw.normalize('NFKC');
    if (label.length === 0) continue;
    const ascii = /^[\x20-\x7e]+$/.test(label);
    let at = norm.indexOf(label);
    while (at >= 0) {
      const whole = !ascii || (!isAsciiWordChar(norm[at - 1]) && !isAsciiWordChar(norm[at + label.length]));
      if (whole) {
        add({ rule: `label:${label}`, masked: label }, `l:${label}`);
        break;
      }
      at = norm.indexOf(label, at + 1);
    }
  }
  return out;
}

/** Findings for the matches of one text (counts per rule; masked examples; never a full number). */
export function leakFindings(matches: readonly LeakMatch[], action: LeakAction, location?: string): Finding[] {
  const findings: Finding[] = [];
  const myNumbers = matches.filter((m) => m.rule === 'my-number');
  const cards = matches.filter((m) => m.rule === 'card-number');
  const labels = matches.filter((m) => m.rule.startsWith('label:'));
  const loc = location === undefined ? {} : { location };
  const many = (n: number): string => (n > 1 ? ` (${n} different numbers)` : '');
  if (myNumbers.length > 0) {
    findings.push({
      code: 'leak-my-number',
      verdict: 'Danger',
      rule: 'my-number',
      action,
      message: `Contains a My Number (individual number) ${myNumbers[0]!.masked}${many(myNumbers.length)}.`,
      ...loc,
    });
  }
  if (cards.length > 0) {
    findings.push({
      code: 'leak-card-number',
      verdict: 'Danger',
      rule: 'card-number',
      action,
      message: `Contains a payment card number (${cards[0]!.scheme}) ${cards[0]!.masked}${many(cards.length)}.`,
      ...loc,
    });
  }
  for (const l of labels) {
    findings.push({
      code: 'leak-confidential-label',
      verdict: 'Danger',
      rule: l.rule,
      action,
      message: `Carries the confidentiality label "${l.masked}".`,
      ...loc,
    });
  }
  return findings;
}
