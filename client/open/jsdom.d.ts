/**
 * The part of jsdom the sanitizer uses. `@types/jsdom` is not installed: it pulls a newer
 * undici/lib set that breaks the Node 20 Uint8Array typings of the rest of the tree.
 */
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string);
    readonly window: unknown;
  }
}
