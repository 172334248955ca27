import type { MessageRef } from '../../api';
import type { ComposeStart } from './Compose';

/** The bare address of `Name <addr>` (or the text itself). */
export function bareAddress(value: string): string {
  const m = /<([^<>]+)>\s*$/.exec(value);
  return (m?.[1] ?? value).trim();
}

/** From the mail view's reply / reply-all / forward request to what the compose screen prefills. */
export function composeStartFrom(request: {
  mode: 'reply' | 'replyAll' | 'forward';
  ref: MessageRef;
  headers?: { from: string; to: string[]; cc: string[]; subject: string; date?: string };
  text?: string;
}): ComposeStart {
  const h = request.headers;
  // A reply quotes what the user read; a forward carries the whole original instead.
  const quotes = request.mode !== 'forward' && request.text !== undefined && request.text.trim() !== '';
  return {
    mode: request.mode,
    ref: request.ref,
    ...(h === undefined
      ? {}
      : { subject: h.subject, from: bareAddress(h.from), to: h.to.map(bareAddress), cc: h.cc.map(bareAddress) }),
    ...(quotes ? { quoted: { from: h?.from ?? '', date: h?.date ?? '', text: request.text ?? '' } } : {}),
  };
}
