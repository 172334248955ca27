import { JSDOM } from 'jsdom';

/**
 * The rich-text body of a draft, rebuilt from a restricted model: paragraphs, line breaks, bold,
 * italic, bulleted and numbered lists, and links to http(s) / mailto. The UI's HTML is parsed
 * (jsdom, scripts never run) and walked; only those elements are written out again, text escaped,
 * so nothing else — scripts, styles, event handlers, images, forms — can reach the mail, whatever
 * the renderer sent. The text/plain alternative is derived from the same walk, so both parts say
 * the same thing.
 */
export interface RichBody {
  /** A complete HTML document with only the allowed elements. */
  html: string;
  /** The plain-text alternative: list items as `- `, links as `text <url>`. */
  text: string;
}

/** What the walk touches of a DOM node (the main tsconfig has no DOM lib). */
interface DomNode {
  readonly nodeType: number;
  readonly nodeName: string;
  readonly nodeValue: string | null;
  readonly childNodes: ArrayLike<DomNode>;
  getAttribute?(name: string): string | null;
}

const TEXT_NODE = 3;
const ELEMENT_NODE = 1;
/** Elements dropped with everything inside (their text is not mail text). */
const DROPPED = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'SVG', 'MATH', 'HEAD', 'TITLE', 'TEXTAREA', 'SELECT', 'CANVAS', 'AUDIO', 'VIDEO']);
const BLOCK = new Set(['P', 'DIV', 'BLOCKQUOTE', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'PRE', 'SECTION', 'ARTICLE', 'HEADER', 'FOOTER', 'TABLE', 'TR']);
const SAFE_HREF = /^(https?:\/\/|mailto:)[^\s"<>]+$/i;

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function children(node: DomNode): DomNode[] {
  return Array.from(node.childNodes);
}

/** HTML from the allowed elements only; anything else is unwrapped (its text kept) or dropped. */
function toHtml(node: DomNode): string {
  if (node.nodeType === TEXT_NODE) return escapeHtml(node.nodeValue ?? '');
  if (node.nodeType !== ELEMENT_NODE) return '';
  const name = node.nodeName.toUpperCase();
  if (DROPPED.has(name)) return '';
  const inner = children(node).map(toHtml).join('');
  switch (name) {
    case 'B':
    case 'STRONG':
      return `<strong>${inner}</strong>`;
    case 'I':
    case 'EM':
      return `<em>${inner}</em>`;
    case 'UL':
    case 'OL': {
      const tag = name.toLowerCase();
      // Only list items inside a list; stray text around them becomes an item of its own.
      const items = children(node)
        .map((c) => (c.nodeType === ELEMENT_NODE && c.nodeName.toUpperCase() === 'LI' ? toHtml(c) : toHtml(c).trim()))
        .filter((s) => s !== '')
        .map((s) => (s.startsWith('<li>') ? s : `<li>${s}</li>`));
      return items.length > 0 ? `<${tag}>${items.join('')}</${tag}>` : '';
    }
    case 'LI':
      return `<li>${inner}</li>`;
    case 'BR':
      return '<br>';
    case 'A': {
      const href = (node.getAttribute?.('href') ?? '').trim();
      return SAFE_HREF.test(href) ? `<a href="${escapeHtml(href)}">${inner}</a>` : inner;
    }
    default:
      return BLOCK.has(name) ? `<p>${inner}</p>` : inner;
  }
}

/** The plain-text reading of the same tree. Blocks are separated by "\n\n"; runs collapsed after. */
function toText(node: DomNode, list?: { ordered: boolean; n: number }): string {
  if (node.nodeType === TEXT_NODE) return (node.nodeValue ?? '').replace(/[ \t\r\n]+/g, ' ');
  if (node.nodeType !== ELEMENT_NODE) return '';
  const name = node.nodeName.toUpperCase();
  if (DROPPED.has(name)) return '';
  if (name === 'BR') return '\n';
  if (name === 'UL' || name === 'OL') {
    const state = { ordered: name === 'OL', n: 0 };
    return `\n\n${children(node)
      .map((c) => toText(c, state))
      .join('')}\n\n`;
  }
  const inner = children(node)
    .map((c) => toText(c))
    .join('');
  if (name === 'LI') {
    const n = list ? ++list.n : 1;
    return `${list?.ordered === true ? `${n}.` : '-'} ${inner.trim()}\n`;
  }
  if (name === 'A') {
    const href = (node.getAttribute?.('href') ?? '').trim();
    if (!SAFE_HREF.test(href)) return inner;
    const shown = href.replace(/^mailto:/i, '');
    return inner.trim() === '' || inner.trim() === shown ? shown : `${inner} <${shown}>`;
  }
  return BLOCK.has(name) ? `\n\n${inner}\n\n` : inner;
}

export function richBody(html: string): RichBody {
  const dom = new JSDOM(`<!DOCTYPE html><html><head></head><body>${html}</body></html>`);
  const body = (dom.window as { document: { body: DomNode } }).document.body;
  const inner = children(body).map(toHtml).join('');
  const text = children(body)
    .map((c) => toText(c))
    .join('')
    .split('\n')
    .map((l) => l.replace(/^ +| +$/g, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+|\n+$/g, '');
  return {
    html: `<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>${inner}</body></html>\n`,
    text: text === '' ? '' : `${text}\n`,
  };
}
