import type { ReactNode } from 'react';

/**
 * A SHA-256 fingerprint as people compare it: hex pairs in groups of four (8 hex digits), monospace,
 * wrapping between groups only. Read out in full by screen readers (the value itself).
 */
export function Fingerprint({ value, testId }: { value: string; testId?: string }): ReactNode {
  const pairs = value.split(':').filter((p) => p !== '');
  const groups: string[] = [];
  for (let i = 0; i < pairs.length; i += 4) groups.push(pairs.slice(i, i + 4).join(''));
  return (
    <code className="fingerprint" data-testid={testId} data-value={value}>
      {groups.map((g, i) => (
        <span key={i} className="fingerprint-group">
          {g}
        </span>
      ))}
    </code>
  );
}
