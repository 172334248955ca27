import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ENTRY, APP_ORIGIN, RemoteLoadGate, isAppUrl, isTrustedFrame, serveRendererFile } from '../../electron/security';

describe('Electron shell security helpers', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-app-scheme-'));
    await mkdir(join(dir, 'renderer', 'assets'), { recursive: true });
    await writeFile(join(dir, 'renderer', 'index.html'), '<!doctype html><title>SSMAX</title>');
    await writeFile(join(dir, 'renderer', 'assets', 'app.js'), 'void 0');
    await writeFile(join(dir, 'secret.txt'), 'not for the renderer');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the renderer from ssmax://app with the CSP, and nothing outside its directory or origin', async () => {
    const root = join(dir, 'renderer');
    const index = await serveRendererFile(root, APP_ENTRY);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<title>SSMAX</title>');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'none'");
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(
      (await serveRendererFile(root, `${APP_ORIGIN}/assets/app.js`)).headers.get('content-type'),
    ).toMatch(/^text\/javascript/);

    for (const url of [
      `${APP_ORIGIN}/%2e%2e/secret.txt`,
      `${APP_ORIGIN}/..%2fsecret.txt`,
      `${APP_ORIGIN}/missing.js`,
      'ssmax://other/index.html',
    ]) {
      expect((await serveRendererFile(root, url)).status, url).toBe(404);
    }
  });

  it('trusts only the top frame of the app origin', () => {
    expect(isTrustedFrame({ url: APP_ENTRY, parent: null })).toBe(true);
    expect(isTrustedFrame({ url: APP_ENTRY, parent: {} })).toBe(false);
    expect(isTrustedFrame({ url: 'ssmax://app.attacker.example/', parent: null })).toBe(false);
    expect(isTrustedFrame({ url: 'ssmax://user@app/', parent: null })).toBe(false);
    expect(isTrustedFrame({ url: 'http://app/', parent: null })).toBe(false);
    expect(isTrustedFrame({ url: 'not a url', parent: null })).toBe(false);
    expect(isTrustedFrame(null)).toBe(false);
    expect(isAppUrl(`${APP_ORIGIN}/index.html#x`)).toBe(true);
  });

  it('the network gate lets through only GET images the user allowed, and forgets the oldest beyond its limit', () => {
    const gate = new RemoteLoadGate(2);
    const img = (url: string) => ({ url, method: 'GET', resourceType: 'image' });
    expect(gate.refuses(img('https://t.example/x.gif'))).toBe(true);
    gate.allow(['https://t.example/x.gif', 'javascript:alert(1)', 'file:///etc/passwd']);
    expect(gate.refuses(img('https://t.example/x.gif'))).toBe(false);
    expect(gate.refuses({ url: 'https://t.example/x.gif', method: 'GET', resourceType: 'script' })).toBe(true);
    expect(gate.refuses({ url: 'https://t.example/x.gif', method: 'GET', resourceType: 'subFrame' })).toBe(true);
    expect(gate.refuses({ url: 'https://t.example/x.gif', method: 'POST', resourceType: 'image' })).toBe(true);
    expect(gate.refuses(img('file:///etc/passwd'))).toBe(true);
    gate.allow(['https://a.example/1.png', 'https://a.example/2.png']);
    expect(gate.refuses(img('https://t.example/x.gif'))).toBe(true);
    expect(gate.refuses(img('https://a.example/2.png'))).toBe(false);
  });
});
