import { Tag, childrenOf, ctx, decodeOid, expectTag, oid, read, seq, tlv, type Chunks, type Element, type Encodable } from './der';
import { CmsFormatError } from './errors';

/** Read limits for whole CMS messages: big enough for 25 MB mail, small enough to stop abuse. */
export const CMS_READ_LIMITS = { maxDepth: 64, maxElements: 200_000 } as const;

export interface ContentInfo {
  readonly contentType: string;
  /** The [0] EXPLICIT content element (SignedData, EnvelopedData...). */
  readonly content: Element;
}

/** ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY } (RFC 5652 §3). */
export function readContentInfo(input: Uint8Array): ContentInfo {
  if (input.length === 0) throw new CmsFormatError('The CMS message is empty.');
  const top = read(input, CMS_READ_LIMITS);
  const [typeEl, wrapped] = childrenOf(top, Tag.SEQUENCE, 'ContentInfo');
  const contentType = decodeOid(expectTag(typeEl, Tag.OID, 'ContentInfo contentType'));
  const [content] = expectTag(wrapped, ctx(0), 'ContentInfo content [0]').children();
  if (!content) throw new CmsFormatError('Malformed CMS: ContentInfo has no content.');
  return { contentType, content };
}

export function encodeContentInfo(contentType: string, content: Encodable): Chunks {
  return tlv(Tag.SEQUENCE, oid(contentType), tlv(ctx(0), content));
}

export { seq };
