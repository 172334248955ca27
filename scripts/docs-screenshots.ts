/**
 * `npm run docs:screenshots`: copies the screenshots the README shows from the last e2e run
 * (.tmp/screenshots, written by test/renderer/*.e2e.test.ts against the demo world) into
 * docs/screenshots/. The pictures are never drawn by hand: run `npm run test:e2e` first.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const from = join(repo, '.tmp', 'screenshots');
const to = join(repo, 'docs', 'screenshots');

/** The README's pictures and the e2e test that takes each. */
const SHOWN: Record<string, string> = {
  'mail-verified-en.png': 'test/renderer/mail.e2e.test.ts (a verified chain ① ② ③)',
  'mail-failed-en.png': 'test/renderer/mail.e2e.test.ts (a spoof: verification failed)',
  'mail-verified-ja.png': 'test/renderer/mail.e2e.test.ts (the same in Japanese)',
};

const missing = Object.entries(SHOWN).filter(([name]) => !existsSync(join(from, name)));
if (missing.length > 0) {
  for (const [name, by] of missing) console.error(`docs:screenshots: ${name} is missing; it is taken by ${by}. Run npm run test:e2e first.`);
  process.exit(1);
}
mkdirSync(to, { recursive: true });
for (const name of Object.keys(SHOWN)) copyFileSync(join(from, name), join(to, name));
console.log(`docs:screenshots: ${Object.keys(SHOWN).length} screenshots copied to docs/screenshots/`);
