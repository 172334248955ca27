import { readFile, writeFile } from 'node:fs/promises';
import { PROVISIONING_FORMAT } from '../../client/first-launch/provisioning';
import { AbuseDesk } from '../../org-node/abuse/desk';
import { Authority } from '../../org-node/authority/authority';
import { startOrgServer, type OrgServerHandle } from '../../org-node/http/server';
import { Org } from '../../org-node/org';
import { fromPem, toPem } from '../../org-node/pem';
import { freePort } from '../harness/process';
import { openssl, workdir, type Workdir } from './openssl';

/**
 * A real org node for client tests: an SSMAX authority (plus a foreign one), one admitted org
 * serving its bundle over HTTPS on 127.0.0.1 with a test TLS certificate, and IT's provisioning
 * file pointing at it. Stop it with `close()`.
 */
export interface OrgNodeWorld {
  readonly wd: Workdir;
  readonly org: Org;
  readonly server: OrgServerHandle;
  readonly root: Uint8Array;
  readonly otherRoot: Uint8Array;
  readonly tlsCaPem: string;
  readonly domain: string;
  readonly address: string;
  /** The org's abuse desk, served at the bundle's abuse endpoint (only with `{ abuseDesk: true }`). */
  readonly desk: AbuseDesk | undefined;
  /** IT's provisioning file (JSON text) for this node; `anchor` replaces the trusted SSMAX root. */
  provisioning(extra?: Record<string, unknown>, anchor?: Uint8Array): string;
  /** Makes the node serve `bytes` as its bundle until the returned function restores the real one. */
  serveBundle(bytes: Uint8Array): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export async function startOrgNodeWorld(name = 'Launch Corp', domain = 'launch.example.jp', options: { abuseDesk?: boolean } = {}): Promise<OrgNodeWorld> {
  const wd = await workdir('ssmax-org-world-');
  await wd.file('passphrase', 'org node world passphrase\n');
  const secrets = { passphraseFile: wd.path('passphrase') };
  const authority = await Authority.init(wd.path('authority'), {}, secrets);
  const other = await Authority.init(wd.path('other-authority'), {}, secrets);
  // With the abuse desk the node listens on a port chosen now, so the bundle's abuse endpoint is reachable.
  const port = options.abuseDesk ? await freePort() : 0;
  const init = await Org.init(wd.path('org'), { name, domains: [domain], ...(options.abuseDesk ? { publicBaseUrl: `https://127.0.0.1:${port}` } : {}) }, secrets);
  const org = init.org;
  await org.installCa(await authority.admit({ orgName: name, domains: [domain], csr: fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']) }), await authority.rootCertificate());
  const root = await authority.rootCertificate();
  const otherRoot = await other.rootCertificate();
  await authority.close();
  await other.close();
  const tls = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.pem'], { cwd: wd.dir });
  if (tls.code !== 0) throw new Error(`openssl: ${tls.stderr}`);
  const tlsCaPem = (await wd.read('tls.pem')).toString('utf8');
  const desk = options.abuseDesk ? AbuseDesk.open(org, { resolveAbuseEndpoint: async () => undefined, log: () => undefined }) : undefined;
  const server = await startOrgServer(org, { listen: { host: '127.0.0.1', port }, tls: { certFile: wd.path('tls.pem'), keyFile: wd.path('tls.key') }, log: () => undefined, ...(desk ? { abuseDesk: desk } : {}) });
  const address = `hanako@${domain}`;
  return {
    wd,
    org,
    server,
    root,
    otherRoot,
    tlsCaPem,
    domain,
    address,
    desk,
    provisioning: (extra = {}, anchor = root) =>
      JSON.stringify({
        format: PROVISIONING_FORMAT,
        address,
        bundleUrl: `${server.url}/.well-known/ssmax/bundle.p7s`,
        tlsCaPem,
        imap: { host: `imap.${domain}`, port: 993, security: 'tls' },
        trustAnchorsPem: [toPem(anchor, 'CERTIFICATE')],
        ...extra,
      }),
    serveBundle: async (bytes) => {
      const file = wd.path('org/bundle.p7s');
      const real = await readFile(file);
      await writeFile(file, bytes);
      return () => writeFile(file, real);
    },
    close: async () => {
      await server.close().catch(() => undefined);
      desk?.close();
      await org.close();
      await wd.remove();
    },
  };
}
