import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type ChromiumHandle } from './chromium';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

// A page with visible content (so the screenshot is more than a blank canvas) and a button
// whose click is only observable if the page's script really ran in the browser.
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>SSMAX harness check</title>
<style>
  body { font-family: sans-serif; margin: 40px; background: #f4f6fa; }
  h1 { color: #1b3a6b; }
  button { font-size: 20px; padding: 10px 24px; background: #2d6cdf; color: white; border: 0; border-radius: 6px; }
  #status { margin-top: 20px; font-size: 22px; }
</style></head>
<body>
  <h1>SSMAX harness check</h1>
  <button id="verify" type="button">Verify chain</button>
  <p id="status">Not verified</p>
  <script>
    document.getElementById('verify').addEventListener('click', () => {
      document.getElementById('status').textContent = 'Chain verified: sender \\u2192 sending org \\u2192 receiving org';
    });
  </script>
</body>
</html>`;

describe('Chromium through playwright-core', () => {
  let browser: ChromiumHandle;
  let server: Server;
  let baseUrl: string;
  let failed = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('http server has no port');
    baseUrl = `http://127.0.0.1:${addr.port}/`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.stop({ keepDir: failed });
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('renders a page from a loopback server, runs its script on click, and writes a PNG screenshot', async () => {
    try {
      const page = await browser.newPage();
      await page.goto(baseUrl);
      expect(await page.title()).toBe('SSMAX harness check');
      expect(await page.locator('h1').textContent()).toBe('SSMAX harness check');
      expect(await page.locator('#status').textContent()).toBe('Not verified');

      await page.getByRole('button', { name: 'Verify chain' }).click();
      await expect
        .poll(() => page.locator('#status').textContent())
        .toBe('Chain verified: sender → sending org → receiving org');

      const file = join(browser.artifactsDir, 'harness-check.png');
      await page.screenshot({ path: file });
      const png = await readFile(file);
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      // IHDR right after the signature: width and height of the 1280×800 viewport.
      expect(png.readUInt32BE(16)).toBe(1280);
      expect(png.readUInt32BE(20)).toBe(800);
      // A blank 1280×800 page compresses to a few hundred bytes; text and a button make it larger.
      expect((await stat(file)).size).toBeGreaterThan(5_000);
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it('stop() leaves no Chromium process of this profile behind', async () => {
    const other = await launchChromium();
    expect(other.pids().length).toBeGreaterThan(0);
    await other.stop();
    expect(other.pids()).toEqual([]);
  });
});
