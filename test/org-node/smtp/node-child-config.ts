import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caDer } from '../../smime/chain/world';
import type { RelayWorld } from '../relay/relay-world';
import type { ChildConfig } from './node-child';

/**
 * The configuration of org a's node in a child process (node-child.ts): a.example with the relay
 * world's keys, relaying b.example to `bInboundPort`. With `crash`, the child kills itself at the
 * n-th hand-off once (the marker file survives its restart). Written to `<work>/<name>.json`.
 */
export function writeOrgAChildConfig(
  rw: RelayWorld,
  o: {
    work: string;
    name: string;
    spoolDir: string;
    submissionPort: number;
    tls: { keyPath: string; certPath: string };
    credentialsPath: string;
    bInboundPort: number;
    lmtp: { host: string; port: number };
    crash?: { marker: string; after: number };
  },
): { config: ChildConfig; configPath: string } {
  const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
  const config: ChildConfig = {
    name: 'node.a.example',
    domains: ['a.example'],
    caB64: b64(caDer(rw.world.a)),
    signing: { pkcs8: b64(rw.world.a.signing.pkcs8), cert: b64(rw.world.a.signing.der) },
    encryption: { pkcs8: b64(rw.world.a.encryption.pkcs8), cert: b64(rw.world.a.encryption.der) },
    rootPem: rw.world.rootPem,
    directoryPath: join(o.work, 'dir-a.sqlite'),
    spoolDir: o.spoolDir,
    submissionPort: o.submissionPort,
    tlsKey: o.tls.keyPath,
    tlsCert: o.tls.certPath,
    credentialsPath: o.credentialsPath,
    routes: { 'b.example': { host: '127.0.0.1', port: o.bInboundPort } },
    orgs: { 'b.example': { id: 'b.example', cert: b64(rw.world.b.encryption.der) } },
    lmtp: o.lmtp,
    ...(o.crash ? { crashMarker: join(o.work, o.crash.marker), crashAfter: o.crash.after } : {}),
  };
  const configPath = join(o.work, `${o.name}.json`);
  writeFileSync(configPath, JSON.stringify(config));
  return { config, configPath };
}
