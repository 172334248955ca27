import { Tag, childrenOf, decodeOid, der, expectTag, oid, setOf, seq, type Element } from './der';

/** Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue } */
export interface Attribute {
  readonly type: string;
  readonly values: Element[];
  /** The exact encoding of the attribute type OID. */
  readonly typeRaw: Uint8Array;
  /** The exact encoding of the Attribute. */
  readonly raw: Uint8Array;
}

export function readAttributes(set: Element): Attribute[] {
  return set.children().map((attr) => {
    const [typeEl, valuesEl] = childrenOf(attr, Tag.SEQUENCE, 'Attribute');
    return { type: decodeOid(expectTag(typeEl, Tag.OID, 'attribute type')), typeRaw: (typeEl as Element).raw, values: expectTag(valuesEl, Tag.SET, 'attribute values').children(), raw: attr.raw };
  });
}

export function encodeAttribute(type: string, ...values: Uint8Array[]): Uint8Array {
  return seq(oid(type), setOf(values));
}

/** Signed attributes are signed as an explicit SET OF (tag 0x31), not as the [0] IMPLICIT they are carried in (RFC 5652 §5.4). */
export function signedAttributesForSignature(attrsTagged: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(attrsTagged);
  copy[0] = Tag.SET;
  return copy;
}

export function encodeAttributeSet(tag: number, attributes: readonly Uint8Array[], sort: boolean): Uint8Array {
  if (sort) {
    const set = setOf(attributes);
    const out = Uint8Array.from(set);
    out[0] = tag;
    return out;
  }
  return der(tag, ...attributes);
}
