/** Moved to the S/MIME core (smime/content) so the client's PPAP warning uses the same code. */
export * from '../../smime/content/lzma';
