/**
 * The compose screen's rich text: a few marks typed in the plain text area — `**bold**`,
 * `*italic*`, lines starting with `- ` for a bulleted list, `[text](https://…)` for a link — read
 * into a small model, from which both the HTML and the plain-text alternative are written. HTML is
 * only ever produced from this model (text escaped, links to http(s) / mailto only), and the main
 * process rebuilds it again from its own allow-list before sealing.
 */

export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'strong'; children: Inline[] }
  | { kind: 'em'; children: Inline[] }
  | { kind: 'link'; href: string; children: Inline[] };

export type Block = { kind: 'para'; lines: Inline[][] } | { kind: 'list'; items: Inline[][] };

const SAFE_HREF = /^(https?:\/\/|mailto:)[^\s"<>()]+$/i;
const LIST_LINE = /^\s*[-*•]\s+/;
// `**bold**`, `*italic*` / `_italic_` (not around spaces), `[text](href)`.
const INLINE = /\*\*(?=\S)([\s\S]*?\S)\*\*|\*(?=[^\s*])([^*]*?[^\s*])\*|(?<![\w])_(?=\S)([^_]*?\S)_(?![\w])|\[([^\]\n]+)\]\(([^)\s]+)\)/;

function parseInline(source: string): Inline[] {
  const out: Inline[] = [];
  let rest = source;
  for (;;) {
    const m = INLINE.exec(rest);
    if (m === null) break;
    if (m.index > 0) out.push({ kind: 'text', text: rest.slice(0, m.index) });
    if (m[1] !== undefined) out.push({ kind: 'strong', children: parseInline(m[1]) });
    else if (m[2] !== undefined || m[3] !== undefined) out.push({ kind: 'em', children: parseInline(m[2] ?? m[3] ?? '') });
    else if (m[4] !== undefined && m[5] !== undefined && SAFE_HREF.test(m[5])) out.push({ kind: 'link', href: m[5], children: parseInline(m[4]) });
    else out.push({ kind: 'text', text: m[0] });
    rest = rest.slice(m.index + m[0].length);
  }
  if (rest !== '') out.push({ kind: 'text', text: rest });
  return out;
}

/** Paragraphs are separated by blank lines; runs of `- ` lines are lists. */
export function parseRichText(source: string): Block[] {
  const blocks: Block[] = [];
  for (const chunk of source.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    let para: Inline[][] = [];
    let list: Inline[][] = [];
    const flush = (): void => {
      if (para.length > 0) blocks.push({ kind: 'para', lines: para });
      if (list.length > 0) blocks.push({ kind: 'list', items: list });
      para = [];
      list = [];
    };
    for (const line of chunk.split('\n')) {
      if (LIST_LINE.test(line)) {
        if (para.length > 0) flush();
        list.push(parseInline(line.replace(LIST_LINE, '')));
      } else {
        if (list.length > 0) flush();
        para.push(parseInline(line));
      }
    }
    flush();
  }
  return blocks.filter((b) => !(b.kind === 'para' && b.lines.every((l) => l.length === 0)));
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function inlineHtml(nodes: Inline[]): string {
  return nodes
    .map((n) => {
      if (n.kind === 'text') return escapeHtml(n.text);
      if (n.kind === 'strong') return `<strong>${inlineHtml(n.children)}</strong>`;
      if (n.kind === 'em') return `<em>${inlineHtml(n.children)}</em>`;
      return `<a href="${escapeHtml(n.href)}">${inlineHtml(n.children)}</a>`;
    })
    .join('');
}

function inlineText(nodes: Inline[]): string {
  return nodes
    .map((n) => {
      if (n.kind === 'text') return n.text;
      if (n.kind !== 'link') return inlineText(n.children);
      const shown = n.href.replace(/^mailto:/i, '');
      const label = inlineText(n.children);
      return label.trim() === shown ? shown : `${label} <${shown}>`;
    })
    .join('');
}

export function richTextHtml(blocks: Block[]): string {
  return blocks
    .map((b) =>
      b.kind === 'para'
        ? `<p>${b.lines.map(inlineHtml).join('<br>')}</p>`
        : `<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ul>`,
    )
    .join('');
}

export function richTextPlain(blocks: Block[]): string {
  const text = blocks
    .map((b) => (b.kind === 'para' ? b.lines.map(inlineText).join('\n') : b.items.map((i) => `- ${inlineText(i)}`).join('\n')))
    .join('\n\n');
  return text === '' ? '' : `${text}\n`;
}

// ---------------------------------------------------------------- editing the marks

export interface Edit {
  value: string;
  selectionStart: number;
  selectionEnd: number;
}

/** Puts `mark` around the selection (or an empty pair with the cursor inside); removes it if already there. */
export function toggleMark(e: Edit, mark: string): Edit {
  const { value, selectionStart: s, selectionEnd: end } = e;
  const before = value.slice(0, s);
  const after = value.slice(end);
  if (before.endsWith(mark) && after.startsWith(mark)) {
    return { value: before.slice(0, -mark.length) + value.slice(s, end) + after.slice(mark.length), selectionStart: s - mark.length, selectionEnd: end - mark.length };
  }
  return { value: `${before}${mark}${value.slice(s, end)}${mark}${after}`, selectionStart: s + mark.length, selectionEnd: end + mark.length };
}

/** Makes the selected lines (or the cursor's line) bulleted list items; unmakes them if all already are. */
export function toggleList(e: Edit): Edit {
  const { value } = e;
  const start = value.lastIndexOf('\n', e.selectionStart - 1) + 1;
  const endNl = value.indexOf('\n', e.selectionEnd);
  const end = endNl < 0 ? value.length : endNl;
  const lines = value.slice(start, end).split('\n');
  const all = lines.every((l) => LIST_LINE.test(l));
  const changed = lines.map((l) => (all ? l.replace(LIST_LINE, '') : `- ${l}`)).join('\n');
  return { value: value.slice(0, start) + changed + value.slice(end), selectionStart: start, selectionEnd: start + changed.length };
}

/** `[selection](https://)` with the cursor after `https://`, where the address goes. */
export function insertLink(e: Edit, placeholder: string): Edit {
  const label = e.value.slice(e.selectionStart, e.selectionEnd) || placeholder;
  const head = `${e.value.slice(0, e.selectionStart)}[${label}](https://`;
  return { value: `${head})${e.value.slice(e.selectionEnd)}`, selectionStart: head.length, selectionEnd: head.length };
}
