import { connect, type Socket } from 'node:net';
import { OrgNodeError } from '../errors';
import type { Authenticator } from './credentials';

/**
 * Submission credentials delegated to the org's Dovecot (issue 6: one password per member, the one
 * their IMAP uses), through Dovecot's **auth-client protocol** (the socket its own login processes
 * and Postfix's SASL use: https://doc.dovecot.org/developer_manual/design/auth_protocol/).
 *
 * Why this and not an IMAP LOGIN probe: it asks the auth process only — any passdb (passwd-file,
 * LDAP, SQL, PAM) with Dovecot's own username normalisation and failure accounting — without
 * starting an IMAP session per submission (no mail process, no login side effects such as
 * last-login plugins or "logged in" log lines), and it is the interface Dovecot documents for
 * exactly this use (Postfix `smtpd_sasl_type = dovecot`). The socket is a unix socket next to
 * Dovecot (`service auth { unix_listener … }`) or an `inet_listener` on a private network.
 *
 * A wrong password → undefined (535); Dovecot unreachable or a protocol error → throws (454: the
 * client keeps the message in its outbox and retries).
 */
export class DovecotAuthError extends OrgNodeError {}

export type DovecotAuthTarget = { readonly path: string } | { readonly host: string; readonly port: number };

export interface DovecotAuthOptions {
  /** The service name Dovecot's passdb sees (default "smtp"). */
  readonly service?: string;
  readonly timeoutMs?: number;
}

const escape = (v: string): string => v.split('\x01').join('\x011').split('\t').join('\x01t').split('\n').join('\x01n');

export function dovecotAuthenticator(target: DovecotAuthTarget, options: DovecotAuthOptions = {}): Authenticator {
  let nextId = 1;
  return (username, password) =>
    new Promise<string | undefined>((resolve, reject) => {
      if (/[\0\t\n]/.test(username) || /\0/.test(password)) return resolve(undefined);
      const id = nextId++;
      const socket: Socket = 'path' in target ? connect(target.path) : connect(target.port, target.host);
      let buffer = '';
      let handshakeDone = false;
      let settled = false;
      const finish = (err: Error | undefined, user?: string): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        if (err) reject(err);
        else resolve(user);
      };
      socket.setTimeout(options.timeoutMs ?? 10_000, () => finish(new DovecotAuthError('Dovecot\'s auth service did not answer in time.')));
      socket.on('error', (cause) => finish(new DovecotAuthError('Dovecot\'s auth service cannot be reached.', { cause })));
      socket.on('close', () => finish(new DovecotAuthError('Dovecot\'s auth service closed the connection.')));
      socket.on('connect', () => socket.write(`VERSION\t1\t2\nCPID\t${process.pid}\n`));
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          const [cmd, ...args] = line.split('\t');
          if (!handshakeDone) {
            if (cmd === 'VERSION' && args[0] !== '1') return finish(new DovecotAuthError(`Dovecot's auth protocol version ${args[0] ?? '?'} is not supported.`));
            if (cmd === 'DONE') {
              handshakeDone = true;
              const resp = Buffer.from(`\0${username}\0${password}`, 'utf8').toString('base64');
              // "secured": the submission server only offers AUTH after STARTTLS (or on loopback by configuration).
              socket.write(`AUTH\t${id}\tPLAIN\tservice=${escape(options.service ?? 'smtp')}\tsecured\tnologin\tresp=${resp}\n`);
            }
            continue;
          }
          if (args[0] !== String(id)) continue;
          if (cmd === 'OK') {
            const user = args.slice(1).find((a) => a.startsWith('user='))?.slice(5);
            return finish(undefined, (user ?? username).trim().toLowerCase());
          }
          if (cmd === 'FAIL') {
            // temp: the passdb itself failed (e.g. LDAP down) — not the member's fault.
            if (args.slice(1).includes('temp')) return finish(new DovecotAuthError('Dovecot\'s password database failed temporarily.'));
            return finish(undefined, undefined);
          }
          if (cmd === 'CONT') return finish(new DovecotAuthError('Dovecot\'s auth service asked for another round, which PLAIN does not have.'));
        }
      });
    });
}
