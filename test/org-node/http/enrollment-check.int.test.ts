import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnrollmentApiError, checkEnrollmentCode, enrollmentUrl, requestCertificates } from '../../../native/piv/enrollment-api';
import { cardRequests, httpsRequest } from '../../support/ssmax-cli';
import { startOrgNodeWorld, type OrgNodeWorld } from '../../support/org-node-world';

/**
 * The enrollment API's code check (`{ address, code, check: true }`), which IT's tools ask before they
 * touch the card: judged exactly like the real request, the code not spent, refusals counted (audited)
 * like refused requests. Real HTTPS org node; the client side is native/piv/enrollment-api.ts.
 */
let world: OrgNodeWorld;
let url: string;
const KEN = 'ken@check.example.jp';
const AYA = 'aya@check.example.jp';

beforeAll(async () => {
  world = await startOrgNodeWorld('Check Corp', 'check.example.jp');
  url = enrollmentUrl(world.server.url);
  await world.org.directory.addMember({ address: KEN, name: 'Ken Watanabe', staffId: 'CK-1' }, 'test');
  await world.org.directory.addMember({ address: AYA, name: 'Aya Mori', staffId: 'CK-2' }, 'test');
}, 120_000);

afterAll(async () => {
  await world?.close();
});

const check = (address: string, code: string): Promise<unknown> => checkEnrollmentCode({ url, address, code, tlsCa: world.tlsCaPem }).then(() => 'ok', (e: unknown) => e);
const refusals = async (address: string): Promise<string[]> =>
  (await world.org.directory.auditLog({ subject: address })).filter((e) => e.action === 'enrollment-code.refuse').map((e) => e.detail ?? '');

describe('POST /ssmax/enroll/v1 with check: true', () => {
  it('a valid code passes the check without being spent: the real enrollment afterwards succeeds, then the check refuses it as used', async () => {
    const { code } = await world.org.directory.createEnrollmentCode(KEN, 600_000, 'test');
    expect(await check(KEN, code)).toBe('ok');
    // Twice: a check does not spend it.
    expect(await check(KEN, code.toLowerCase())).toBe('ok');
    expect((await world.org.directory.auditLog({ subject: KEN })).filter((e) => e.action === 'enrollment-code.check')).toHaveLength(2);
    expect(await world.org.directory.certificates(KEN)).toHaveLength(0);

    const issued = await requestCertificates({ url, address: KEN, code, ...(await cardRequests('P-256', KEN)), tlsCa: world.tlsCaPem });
    expect(issued.signatureCertificate.length).toBeGreaterThan(0);
    expect((await world.org.directory.certificates(KEN)).map((c) => c.slot).sort()).toEqual(['9C', '9D']);

    const used = await check(KEN, code);
    expect(used).toBeInstanceOf(EnrollmentApiError);
    expect(used).toMatchObject({ code: 'code-refused', status: 401 });
    expect(await refusals(KEN)).toEqual(['used (check)']);
  });

  it('wrong code, wrong address, expired code, suspended member → 401 code-refused, each audited as a refused attempt with its reason', async () => {
    const { code } = await world.org.directory.createEnrollmentCode(AYA, 600_000, 'test');
    const wrong = await check(AYA, 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ');
    expect(wrong).toMatchObject({ code: 'code-refused', status: 401 });
    // Aya's code for another member (the wrong address typed by IT) is unknown there.
    expect(await check(KEN, code)).toMatchObject({ code: 'code-refused', status: 401 });
    // A malformed address is the same 400 as on the real request.
    expect(await check('not an address', code)).toMatchObject({ code: 'refused', status: 400 });

    const short = await world.org.directory.createEnrollmentCode(AYA, 1, 'test');
    await new Promise((r) => setTimeout(r, 20));
    expect(await check(AYA, short.code)).toMatchObject({ code: 'code-refused', status: 401 });

    const fresh = await world.org.directory.createEnrollmentCode(AYA, 600_000, 'test');
    await world.org.directory.setStatus(AYA, 'suspended', 'test');
    expect(await check(AYA, fresh.code)).toMatchObject({ code: 'code-refused', status: 401 });

    expect(await refusals(AYA)).toEqual(['unknown (check)', 'expired (check)', 'unknown (check)']);
    expect((await refusals(KEN)).filter((d) => d === 'unknown (check)')).toHaveLength(1);
  });

  it('the check answers with the real request\'s refusal, word for word (no finer oracle)', async () => {
    const body = { address: KEN, code: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ' };
    const asCheck = await httpsRequest(url, { ca: world.tlsCaPem, json: { ...body, check: true } });
    const asRequest = await httpsRequest(url, { ca: world.tlsCaPem, json: { ...body, ...(await cardRequests('P-256', KEN)) } });
    expect(asCheck.status).toBe(401);
    expect(asRequest.status).toBe(401);
    expect(asCheck.body.toString()).toBe(asRequest.body.toString());
  });

  it('a code spent between the check and the request is still refused by the request (the check is no authority)', async () => {
    await world.org.directory.reactivate(AYA, 'test');
    const { code } = await world.org.directory.createEnrollmentCode(AYA, 600_000, 'test');
    expect(await check(AYA, code)).toBe('ok');
    await world.org.directory.redeemEnrollmentCode(AYA, code, 'another-station');
    const late = await requestCertificates({ url, address: AYA, code, ...(await cardRequests('P-256', AYA)), tlsCa: world.tlsCaPem }).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: 'code-refused', status: 401 });
    expect((await world.org.directory.certificates(AYA)).filter((c) => !c.revokedAt)).toHaveLength(0);
  });
});
