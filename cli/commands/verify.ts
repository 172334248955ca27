import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { derBlocks, readCertInfos, verifyMessage, type ChainLink, type MessageVerification } from '../../smime/chain';
import { SmimeError } from '../../smime/errors';
import { softwareDecryptor, type Decryptor } from '../../smime/keys';
import { openCardDecryptor } from '../../native/piv/card-keys';
import { PinCache } from '../../native/piv/pin-cache';
import { CliError, ExitCode, UsageError, type CommandGroup } from '../command';
import { askPin, explain, withCard } from './card';

const usage = `usage: ssmax verify <file.eml> --trust <anchor.pem>... [options]

  --trust <pem>        trust anchor (SSMAX root, or any CA for ordinary S/MIME); repeatable, required
  --key <pkcs8.pem>    private key to decrypt with, paired in order with --cert; repeatable
  --cert <cert.pem>    the certificate of that key (9D, org encryption cert …)
  --card               decrypt with the staff card's key-management key (9D) through PC/SC
                       (PIN: SSMAX_CARD_PIN, else asked on the terminal); --reader <name> picks the reader
  --crl <crl>          CRL (PEM or DER) of an org CA or the root; repeatable
  --at <ISO time>      evaluation time (default: now)
  --own-domain <d>     your organisation's mail domain (③ must be made by it); repeatable
  --own-ca <pem>       your organisation's CA certificate (③ must be issued under it)
  --recipient <addr>   your address (③ must have delivered to it)
  --json               print the result model as JSON

Exit code: 0 verified or signed, 1 failed or unsigned (or malformed input), 2 usage or I/O error.`;

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new CliError(`cannot read ${what} ${path}`, ExitCode.usage);
  }
}

const ORDINALS = ['①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧'];

function who(l: ChainLink): string {
  const org = l.orgName ? `, ${l.orgName}` : '';
  if (l.email) return `${l.name ?? l.subject} <${l.email}>${l.staffId ? ` (staff ${l.staffId}${org})` : org ? ` (${org.slice(2)})` : ''}`;
  if (l.domains.length) return `${l.orgName ?? l.name ?? l.subject} (${l.domains.join(', ')})`;
  return l.subject || '(unknown signer)';
}

function linkLine(l: ChainLink, i: number): string {
  const parts = [`${ORDINALS[i] ?? `#${i + 1}`} ${l.role.padEnd(17)} ${l.status.padEnd(9)} ${who(l)}`];
  if (l.signingTime) parts.push(`signed ${l.signingTime.toISOString()}`);
  if (l.attestation) parts.push(`inspection ${l.attestation.verdict} (${l.attestation.engine})`);
  if (l.envelope) parts.push(`envelope ${l.envelope.mailFrom || '<>'} → ${l.envelope.rcptTo.join(', ')}`);
  const lines = [parts.join('  ')];
  for (const r of l.reasons) lines.push(`      ✗ ${r.code}: ${r.message}`);
  for (const n of l.notes) lines.push(`      · ${n.code}: ${n.message}`);
  return lines.join('\n');
}

function human(r: MessageVerification, indent = ''): string {
  const out: string[] = [`state: ${r.state}${r.external ? ' (external)' : ''}${r.partiallySigned ? ' (partially signed)' : ''}`];
  if (r.displayedFrom) out.push(`from: ${r.displayedFrom.name ? `${r.displayedFrom.name} ` : ''}<${r.displayedFrom.address}>`);
  r.links.forEach((l, i) => out.push(linkLine(l, i)));
  for (const x of r.reasons) out.push(`reason ${x.code}: ${x.message}`);
  for (const x of r.warnings) out.push(`warning ${x.code}: ${x.message}`);
  for (const h of r.headers) if (h.status !== 'match') out.push(`header ${h.name}: ${h.status}${h.declaredBySender ? ' (declared by sender)' : ''}`);
  r.forwards.forEach((f, i) => out.push(`forwarded message ${i + 1}:`, human(f, '  ')));
  return out.map((l) => l.split('\n').map((x) => indent + x).join('\n')).join('\n');
}

/** The result model as JSON: dates as ISO strings, the content as size and SHA-256 (not the bytes). */
export function toJson(r: MessageVerification): unknown {
  return {
    state: r.state,
    reasons: r.reasons,
    warnings: r.warnings,
    external: r.external,
    partiallySigned: r.partiallySigned,
    displayedFrom: r.displayedFrom,
    links: r.links.map((l) => ({
      role: l.role,
      status: l.status,
      subject: l.subject,
      name: l.name,
      email: l.email,
      domains: l.domains,
      orgName: l.orgName,
      staffId: l.staffId,
      signingTime: l.signingTime?.toISOString(),
      path: l.path.map((p) => ({ ...p, notBefore: p.notBefore.toISOString(), notAfter: p.notAfter.toISOString() })),
      envelope: l.envelope,
      attestation: l.attestation && {
        ...l.attestation,
        inspectedAt: l.attestation.inspectedAt.toISOString(),
        attachments: l.attestation.attachments.map((a) => ({ ...a, sha256: Buffer.from(a.sha256).toString('hex') })),
      },
      reasons: l.reasons,
      notes: l.notes,
    })),
    headers: r.headers,
    content: r.content && {
      size: r.content.bytes.length,
      sha256: createHash('sha256').update(r.content.bytes).digest('hex'),
      encrypted: r.content.encrypted,
      headerProtection: r.content.headerProtection,
    },
    forwards: r.forwards.map(toJson),
  };
}

async function run(args: string[]): Promise<ExitCode> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        trust: { type: 'string', multiple: true },
        key: { type: 'string', multiple: true },
        cert: { type: 'string', multiple: true },
        crl: { type: 'string', multiple: true },
        at: { type: 'string' },
        'own-domain': { type: 'string', multiple: true },
        'own-ca': { type: 'string' },
        recipient: { type: 'string' },
        json: { type: 'boolean' },
        card: { type: 'boolean' },
        reader: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}\n${usage}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(`exactly one message file is required\n${usage}`);
  const file = positionals[0] as string;
  const trust = values.trust ?? [];
  if (trust.length === 0) throw new UsageError('at least one --trust <anchor.pem> is required');
  const keys = values.key ?? [];
  const certs = values.cert ?? [];
  if (keys.length !== certs.length) throw new UsageError('each --key needs a matching --cert (in the same order)');
  let at: Date | undefined;
  if (values.at !== undefined) {
    at = new Date(values.at);
    if (!/^\d{4}-\d{2}-\d{2}/.test(values.at) || Number.isNaN(at.getTime())) throw new UsageError(`--at must be an ISO time, not "${values.at}"`);
  }

  const anchors: Uint8Array[] = [];
  for (const t of trust) {
    const ders = derBlocks(new Uint8Array(await readInput(t, 'trust anchor')));
    if (readCertInfos(ders).length === 0) throw new CliError(`${t} holds no readable certificate`, ExitCode.usage);
    anchors.push(...ders);
  }
  const decryptors: Decryptor[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = await readInput(keys[i] as string, 'key');
    const cert = await readInput(certs[i] as string, 'certificate');
    try {
      const certDer = derBlocks(new Uint8Array(cert))[0];
      if (!certDer) throw new Error('no certificate');
      decryptors.push(softwareDecryptor(key.toString('latin1').includes('-----BEGIN') ? key.toString('latin1') : new Uint8Array(key), certDer));
    } catch (cause) {
      const detail = cause instanceof SmimeError ? cause.userMessage : 'the key or certificate cannot be read, or they do not match';
      throw new CliError(`${keys[i] as string}: ${detail}`, ExitCode.usage, { cause });
    }
  }
  const crls: Uint8Array[] = [];
  for (const c of values.crl ?? []) crls.push(new Uint8Array(await readInput(c, 'CRL')));
  const ownCa = values['own-ca'] === undefined ? undefined : derBlocks(new Uint8Array(await readInput(values['own-ca'], 'org CA certificate')))[0];
  if (values['own-ca'] !== undefined && (!ownCa || readCertInfos([ownCa]).length === 0)) throw new CliError(`${values['own-ca']} holds no readable certificate`, ExitCode.usage);
  const raw = await readInput(file, 'message');

  const verify = (extra: readonly Decryptor[]): Promise<MessageVerification> =>
    verifyMessage(new Uint8Array(raw), {
      trustAnchors: anchors,
      decryptors: [...decryptors, ...extra],
      crls,
      ...(at ? { at } : {}),
      ...(values['own-domain']?.length ? { ownOrgDomains: values['own-domain'] } : {}),
      ...(ownCa ? { ownOrgCa: ownCa } : {}),
      ...(values.recipient ? { recipient: values.recipient } : {}),
    });
  // With --card the 9D key on the card decrypts (one PIN entry, never retried); the card stays in use only while verifying.
  const result = values.card
    ? await withCard(values.reader, async (watcher, reader) => verify([await openCardDecryptor({ watcher, reader, pinCache: new PinCache({ ttlMs: 0 }), pinPrompt: async () => askPin(undefined) })])).catch(explain)
    : await verify([]);
  const ok = result.state === 'verified' || result.state === 'signed';
  if (values.json) {
    console.log(JSON.stringify(toJson(result), null, 2));
    return ok ? ExitCode.ok : ExitCode.failed;
  }
  // Unreadable input: one line, as for any other failure of the command.
  const first = result.reasons[0];
  if (result.state === 'failed' && result.links.length === 0 && first && ['malformed', 'limit-exceeded', 'unsupported-structure', 'decryption-failed', 'not-decrypted'].includes(first.code)) {
    throw new CliError(`${file}: ${first.message} (${first.code})`, ExitCode.failed);
  }
  console.log(human(result));
  return ok ? ExitCode.ok : ExitCode.failed;
}

export const command: CommandGroup = {
  summary: 'verify a message: decrypt, check the signature chain, print it link by link',
  usage,
  run,
};
