import createDOMPurify, { type DOMPurify } from 'dompurify';
import { JSDOM } from 'jsdom';

/**
 * HTML mail through DOMPurify (on a jsdom window, in the main process), with remote content
 * blocked unless the user asked for it for this message. Blocking means: every URL that would be
 * fetched when rendering — img/video/audio/source/input `src`, `srcset`, `poster`, `background`,
 * SVG `href`/`xlink:href` on image/use/feImage, CSS `url(…)` in `style` attributes and `<style>`
 * elements, CSS `@import`, `<link>` — is removed (the original is kept in a `data-ssmax-blocked-*`
 * attribute, which nothing loads) and counted. Only `data:` and `cid:` (parts of the message
 * itself) stay. Links (`<a href>`) are not loads and stay, opened outside by the shell.
 *
 * Scripts, event handlers, forms, frames, objects, `<base>` and `<meta>` are always removed; the
 * view adds `script-src 'none'` on top.
 */
export interface SanitizedHtml {
  html: string;
  /** How many remote loads were removed (0 when remote content is allowed). */
  remoteBlocked: number;
  /**
   * The remote URLs the HTML will load (only when remote content is allowed): the Electron shell
   * lets exactly these through its network gate, nothing else (electron/security.ts).
   */
  remoteLoads: string[];
}

const LOCAL_URL = /^\s*(data:|cid:|#|about:blank\s*$)/i;
const CSS_URL = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"]*))\s*\)/gi;
const CSS_IMPORT = /@import\s+[^;]+;?/gi;
const LOADING_ATTRS = ['src', 'srcset', 'poster', 'background', 'lowsrc', 'dynsrc', 'data'];
const SVG_LOADING_TAGS = new Set(['image', 'use', 'feimage']);

/** What the hooks touch of a DOM element (the main tsconfig has no DOM lib). */
interface DomElement {
  readonly tagName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  removeAttribute(name: string): void;
}

let purifier: DOMPurify | undefined;
/** Per-call state read by the hooks (sanitize is synchronous, so calls cannot interleave). */
let current: { block: boolean; blocked: number; loads: Set<string> } = { block: true, blocked: 0, loads: new Set() };

/** A remote load found: blocked → counted, and the caller removes it; allowed → recorded, kept. */
function keepRemote(url: string): boolean {
  if (current.block) {
    current.blocked++;
    return false;
  }
  current.loads.add(url.trim());
  return true;
}

function isRemote(url: string): boolean {
  return url.trim() !== '' && !LOCAL_URL.test(url);
}

/** Neutralises remote `url()` and `@import` in CSS text; returns the new text. */
function neutraliseCss(css: string): string {
  let out = css.replace(CSS_IMPORT, (m) => {
    // An @import's URL is not collected: remote style sheets stay out even when images are allowed.
    if (current.block) current.blocked++;
    return `/* blocked: ${m.replace(/\*\//g, '')} */`.replace(/@import/gi, 'import');
  });
  out = out.replace(CSS_URL, (m, dq: string | undefined, sq: string | undefined, bare: string | undefined) => {
    const url = dq ?? sq ?? bare ?? '';
    if (!isRemote(url) || keepRemote(url)) return m;
    return 'url("about:invalid")';
  });
  return out;
}

function instance(): DOMPurify {
  if (purifier) return purifier;
  const { window } = new JSDOM('<!doctype html><html><body></body></html>');
  const p = createDOMPurify(window as unknown as Parameters<typeof createDOMPurify>[0]);
  p.addHook('uponSanitizeElement', (node, data) => {
    const el = node as unknown as DomElement;
    const tag = data.tagName;
    if (tag === 'style' && el.textContent) el.textContent = neutraliseCss(el.textContent);
    if (tag === 'link' && typeof el.getAttribute === 'function') {
      const href = el.getAttribute('href');
      // <link> is always removed (FORBID_TAGS); counted so the user knows something was left out.
      if (href && isRemote(href) && current.block) current.blocked++;
    }
  });
  p.addHook('afterSanitizeAttributes', (node) => {
    const el = node as unknown as DomElement;
    if (typeof el.getAttribute !== 'function') return;
    if (el.tagName === 'A') {
      el.setAttribute('rel', 'noopener noreferrer');
      el.setAttribute('target', '_blank');
    }
    for (const attr of LOADING_ATTRS) {
      const v = el.getAttribute(attr);
      if (v === null) continue;
      const urls = attr === 'srcset' ? v.split(',').map((c) => c.trim().split(/\s+/)[0] ?? '') : [v];
      const remote = urls.filter(isRemote);
      if (remote.length === 0) continue;
      if (!current.block) {
        remote.forEach(keepRemote);
        continue;
      }
      current.blocked++;
      el.removeAttribute(attr);
      el.setAttribute(`data-ssmax-blocked-${attr}`, v);
    }
    if (SVG_LOADING_TAGS.has(el.tagName.toLowerCase())) {
      for (const attr of ['href', 'xlink:href']) {
        const v = el.getAttribute(attr);
        if (v === null || !isRemote(v) || keepRemote(v)) continue;
        el.removeAttribute(attr);
        el.setAttribute('data-ssmax-blocked-href', v);
      }
    }
    const style = el.getAttribute('style');
    if (style !== null) {
      const neutral = neutraliseCss(style);
      if (neutral !== style) el.setAttribute('style', neutral);
    }
  });
  purifier = p;
  return p;
}

export function sanitizeHtml(html: string, options: { loadRemoteContent: boolean }): SanitizedHtml {
  const p = instance();
  current = { block: !options.loadRemoteContent, blocked: 0, loads: new Set() };
  try {
    const out = p.sanitize(html, {
      FORBID_TAGS: ['form', 'input', 'button', 'textarea', 'select', 'iframe', 'frame', 'frameset', 'object', 'embed', 'link', 'meta', 'base'],
      FORBID_ATTR: ['action', 'formaction', 'ping'],
      ALLOW_UNKNOWN_PROTOCOLS: false,
      RETURN_TRUSTED_TYPE: false,
    });
    return { html: String(out), remoteBlocked: current.blocked, remoteLoads: [...current.loads] };
  } finally {
    current = { block: true, blocked: 0, loads: new Set() };
  }
}
