import { beforeAll, describe, expect, it } from 'vitest';
import type { Draft } from '../../../api';
import { richBody } from '../../../client/compose/rich-text';
import { composeAndSeal, type SealKeys } from '../../../client/compose/seal';
import { decryptContent } from '../../../smime/cms';
import { analyzeSmime, parseMessage, walkEntities } from '../../../smime/mime';
import { buildWorld, caDer, decryptorOf, signerOf, type World } from '../../smime/chain/world';

describe('richBody', () => {
  it('keeps bold, italic, lists and http(s)/mailto links; the text alternative reads the same', () => {
    const r = richBody('<p>Hello <strong>Bob</strong>, <em>see</em>:</p><ul><li>one</li><li><b>two</b></li></ul><p><a href="https://a.example/q3">the figures</a> or <a href="mailto:carol@a.example">carol@a.example</a></p>');
    expect(r.html).toContain('<p>Hello <strong>Bob</strong>, <em>see</em>:</p><ul><li>one</li><li><strong>two</strong></li></ul>');
    expect(r.html).toContain('<a href="https://a.example/q3">the figures</a>');
    expect(r.text).toBe('Hello Bob, see:\n\n- one\n- two\n\nthe figures <https://a.example/q3> or carol@a.example\n');
  });

  it('drops scripts, styles, event handlers, images and javascript: links, whatever the UI sent', () => {
    const r = richBody(
      '<p onclick="alert(1)" style="color:red">hi<script>alert(2)</script><img src="https://x.example/t.gif" onerror="alert(3)"></p>' +
        '<style>p{}</style><a href="javascript:alert(4)">click</a> <a href=" https://ok.example/ " target="_blank" onmouseover="x()">ok</a>' +
        '<iframe src="https://x.example"></iframe><svg><script>alert(5)</script></svg><ol><li>a</li>stray</ol>',
    );
    expect(r.html).not.toMatch(/script|alert|onclick|onerror|onmouseover|style|img|iframe|svg|javascript|target/i);
    expect(r.html).toContain('<p>hi</p>click <a href="https://ok.example/">ok</a><ol><li>a</li><li>stray</li></ol>');
    expect(r.text).toBe('hi\n\nclick ok <https://ok.example/>\n\n1. a\nstray\n');
  });

  it('escapes text so markup typed as text stays text', () => {
    const r = richBody('a &lt;b&gt; &amp; "c"');
    expect(r.html).toContain('<body>a &lt;b&gt; &amp; &quot;c&quot;</body>');
    expect(r.text).toBe('a <b> & "c"\n');
  });
});

describe('composeAndSeal with html', () => {
  let world: World;
  beforeAll(async () => {
    world = await buildWorld();
  });

  it('the signed entity carries multipart/alternative: the derived text/plain first, then the restricted html', async () => {
    const draft: Draft = {
      accountId: 'acc',
      to: ['taro@b.example'],
      cc: [],
      subject: 'Rich',
      text: 'ignored when html is given',
      html: '<p><strong>Bold</strong> news</p><ul><li>first</li></ul><script>alert(1)</script>',
      attachments: [],
    };
    const keys = async (): Promise<SealKeys> => ({ signer: signerOf(world.a.employee.signature), ownEncryptionCertificate: world.a.employee.keyManagement.der });
    const sealed = await composeAndSeal(draft, [], keys, { from: world.a.employee.email, orgEncryptionCertificate: world.a.encryption.der, chainCertificates: [caDer(world.a)] });
    const layer = analyzeSmime(parseMessage(sealed.wire).root).layers[0];
    if (!layer || layer.kind !== 'pkcs7-mime') throw new Error('no pkcs7 layer');
    const inner = parseMessage(Buffer.from((await decryptContent(layer.der(), decryptorOf(world.a.encryption))).content)).root;
    const parts = [...walkEntities(inner)];
    const alternative = parts.find((p) => p.contentType.value === 'multipart/alternative');
    expect(alternative?.children.map((c) => c.contentType.value)).toEqual(['text/plain', 'text/html']);
    expect(alternative?.children[0]?.text().replace(/\r\n/g, '\n')).toBe('Bold news\n\n- first\n');
    const html = alternative?.children[1]?.text() ?? '';
    expect(html).toContain('<p><strong>Bold</strong> news</p><ul><li>first</li></ul>');
    expect(html).not.toContain('script');
    expect(html).not.toContain('alert');
    expect(parts.some((p) => p.text?.().includes('ignored when html'))).toBe(false);
  });
});
