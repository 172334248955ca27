import { createHash, randomFillSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decryptContent, encryptContent, signData, verifySignedData } from '../../../smime/cms';
import { SoftwareSigner, softwareDecryptor } from '../../../smime/keys';
import { buildTestPki, type TestPki } from '../../support/ssmax-pki';

const MB = 1024 * 1024;
const mb = (n: number): string => `${(n / MB).toFixed(1)} MB`;

// A 25 MB attachment must sign, envelope, decrypt and verify. Figures are printed, not asserted
// (no timing assertions); the content checks are what can fail.
describe('25 MB message', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await buildTestPki('P-256');
  });

  it.each(['detached', 'opaque'] as const)('signs (%s), envelopes (GCM), decrypts and verifies', async (mode) => {
    const content = Buffer.alloc(25 * MB);
    randomFillSync(content);
    const digest = createHash('sha256').update(content).digest('hex');
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    const t = performance.now();
    const signer = new SoftwareSigner(pki.org.employee.signature.pkcs8, pki.org.employee.signature.der);
    const signed = await signData({ content, signers: [signer], detached: mode === 'detached' });
    sample();
    const t1 = performance.now();
    const envelopeInput = mode === 'detached' ? content : signed;
    const enveloped = encryptContent({ content: envelopeInput, recipients: [pki.org.encryption.der] });
    sample();
    const t2 = performance.now();
    const decrypted = await decryptContent(enveloped, softwareDecryptor(pki.org.encryption.pkcs8, pki.org.encryption.der));
    sample();
    const t3 = performance.now();
    const result = mode === 'detached' ? verifySignedData(signed, { detachedContent: decrypted.content }) : verifySignedData(decrypted.content);
    sample();
    const t4 = performance.now();
    expect(result.signers[0]?.status).toBe('valid');
    expect(createHash('sha256').update(result.content ?? new Uint8Array()).digest('hex')).toBe(digest);
    console.log(
      `[25 MB ${mode}] sign ${(t1 - t).toFixed(0)} ms, envelope ${(t2 - t1).toFixed(0)} ms, decrypt ${(t3 - t2).toFixed(0)} ms, verify ${(t4 - t3).toFixed(0)} ms; ` +
        `RSS before ${mb(rss0)}, peak sampled ${mb(peak)} (+${mb(peak - rss0)}), process maxRSS ${mb(process.resourceUsage().maxRSS * 1024)}`,
    );
  });
});
