import type { MessageStructureObject } from 'imapflow';
import { describe, expect, it } from 'vitest';
import {
  folderRole,
  hasAttachments,
  selectable,
  smimeHint,
  toFlags,
  uidSet,
} from '../../../client/mail/sync';

const leaf = (type: string, extra: Partial<MessageStructureObject> = {}): MessageStructureObject => ({
  type,
  ...extra,
});

describe('sync helpers', () => {
  it('maps special-use flags to folder roles; INBOX by name', () => {
    expect(folderRole('INBOX', undefined)).toBe('inbox');
    expect(folderRole('inbox', '\\Inbox')).toBe('inbox');
    expect(folderRole('Gesendet', '\\Sent')).toBe('sent');
    expect(folderRole('Papierkorb', '\\Trash')).toBe('trash');
    expect(folderRole('Archive', '\\Archive')).toBe('archive');
    expect(folderRole('Projects', undefined)).toBe('other');
    expect(folderRole('All', '\\All')).toBe('other');
    expect(selectable({ flags: new Set(['\\Noselect']) })).toBe(false);
    expect(selectable({ flags: new Set(['\\HasChildren']) })).toBe(true);
  });

  it('recognises encrypted and signed S/MIME from the top-level structure', () => {
    expect(
      smimeHint(leaf('application/pkcs7-mime', { parameters: { 'smime-type': 'enveloped-data' } })),
    ).toBe('encrypted');
    expect(
      smimeHint(leaf('application/pkcs7-mime', { parameters: { 'smime-type': 'authEnveloped-data' } })),
    ).toBe('encrypted');
    expect(smimeHint(leaf('application/x-pkcs7-mime', { parameters: { 'smime-type': 'signed-data' } }))).toBe(
      'signed',
    );
    expect(
      smimeHint(
        leaf('multipart/signed', {
          parameters: { protocol: 'application/pkcs7-signature' },
          childNodes: [leaf('text/plain'), leaf('application/pkcs7-signature')],
        }),
      ),
    ).toBe('signed');
    // PGP/MIME is not S/MIME.
    expect(
      smimeHint(leaf('multipart/signed', { parameters: { protocol: 'application/pgp-signature' } })),
    ).toBe('none');
    expect(smimeHint(leaf('text/plain'))).toBe('none');
  });

  it('counts real attachments, not S/MIME signature parts or inline text', () => {
    const signed = leaf('multipart/signed', {
      childNodes: [
        leaf('text/plain'),
        leaf('application/pkcs7-signature', {
          disposition: 'attachment',
          dispositionParameters: { filename: 'smime.p7s' },
        }),
      ],
    });
    expect(hasAttachments(signed)).toBe(false);
    expect(
      hasAttachments(
        leaf('multipart/mixed', {
          childNodes: [leaf('text/plain'), leaf('application/pdf', { parameters: { name: 'a.pdf' } })],
        }),
      ),
    ).toBe(true);
    expect(
      hasAttachments(
        leaf('multipart/mixed', {
          childNodes: [leaf('text/plain'), leaf('text/csv', { disposition: 'attachment' })],
        }),
      ),
    ).toBe(true);
    expect(
      hasAttachments(leaf('multipart/alternative', { childNodes: [leaf('text/plain'), leaf('text/html')] })),
    ).toBe(false);
  });

  it('splits flags into known booleans and the rest', () => {
    expect(toFlags(new Set(['\\Seen', '\\Recent', '$Forwarded', '\\Draft']))).toEqual({
      seen: true,
      flagged: false,
      answered: false,
      other: ['$Forwarded', '\\Draft'],
    });
  });

  it('compresses UIDs into an IMAP sequence set', () => {
    expect(uidSet([5, 1, 2, 3, 8, 10, 11, 12])).toBe('1:3,5,8,10:12');
    expect(uidSet([7])).toBe('7');
  });
});
