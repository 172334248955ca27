import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/support/shared-fixtures.ts). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where the public test vectors (RFC 4134, RFC 9216, RFC 9788) live. They are read in place, never
 * copied into the project. The workplace keeps them in `shared/fixtures` beside the checkout, but
 * CI may clone elsewhere: SSMAX_SHARED_FIXTURES wins, then `../shared/fixtures` of the repository
 * and of each parent folder, then the workplace's fixed location. Missing vectors are an error,
 * not a skipped test.
 */
function locateSharedFixtures(): string {
  const candidates: string[] = [];
  if (process.env.SSMAX_SHARED_FIXTURES) candidates.push(process.env.SSMAX_SHARED_FIXTURES);
  for (let dir = repoRoot; ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, '..', 'shared', 'fixtures'));
    if (path.dirname(dir) === dir) break;
  }
  candidates.push('/work/shared/fixtures');
  const found = candidates.find((c) => existsSync(path.join(c, 'rfc9216')));
  if (!found) {
    throw new Error(`public test vectors not found; set SSMAX_SHARED_FIXTURES (looked in: ${[...new Set(candidates)].join(', ')})`);
  }
  return path.resolve(found);
}

export const sharedFixturesDir = locateSharedFixtures();
