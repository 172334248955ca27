import { describe, expect, it } from 'vitest';
import { pagesFor, scrollToReveal, windowRange } from '../../../renderer/mail/windowing';

describe('message list windowing', () => {
  const base = { rowHeight: 50, viewportHeight: 500, overscan: 5 };

  it('renders only the rows in view plus the overscan, at the top of 100,000 rows', () => {
    const r = windowRange({ ...base, count: 100_000, scrollTop: 0 });
    expect(r).toEqual({ start: 0, end: 15, totalHeight: 5_000_000 });
  });

  it('in the middle: the viewport’s rows ± overscan, whatever the list length', () => {
    const r = windowRange({ ...base, count: 100_000, scrollTop: 2_500_025 });
    // Row 50,000 is cut at the top (25 px scrolled into it); rows 50,000–50,010 are visible.
    expect(r.start).toBe(50_000 - 5);
    expect(r.end).toBe(50_011 + 5);
    expect(r.end - r.start).toBeLessThan(30);
  });

  it('at the very end: clamped to the last row, never past it', () => {
    const r = windowRange({ ...base, count: 100_000, scrollTop: 99_999_999 });
    expect(r.end).toBe(100_000);
    expect(r.start).toBe(100_000 - 10 - 5);
  });

  it('a list shorter than the viewport renders all of it', () => {
    expect(windowRange({ ...base, count: 3, scrollTop: 0 })).toEqual({ start: 0, end: 3, totalHeight: 150 });
  });

  it('empty list and nonsense input render nothing', () => {
    expect(windowRange({ ...base, count: 0, scrollTop: 0 })).toEqual({ start: 0, end: 0, totalHeight: 0 });
    expect(windowRange({ ...base, count: 10, rowHeight: 0, scrollTop: 0 }).end).toBe(0);
    expect(windowRange({ ...base, count: 10, scrollTop: -100 }).start).toBe(0);
  });

  it('keyboard moves scroll just enough to show the active row', () => {
    expect(scrollToReveal(5, 50, 0, 500)).toBe(0); // already visible
    expect(scrollToReveal(10, 50, 0, 500)).toBe(50); // one below: scroll by one row
    expect(scrollToReveal(3, 50, 400, 500)).toBe(150); // above: its top at the top
    expect(scrollToReveal(99_999, 50, 0, 500)).toBe(99_999 * 50 + 50 - 500); // End
  });

  it('pages needed for a window', () => {
    expect(pagesFor(0, 15, 100)).toEqual([0]);
    expect(pagesFor(95, 110, 100)).toEqual([0, 1]);
    expect(pagesFor(49_995, 50_016, 100)).toEqual([499, 500]);
    expect(pagesFor(10, 10, 100)).toEqual([]);
  });
});
