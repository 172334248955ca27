import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiError,
  type Account,
  type AppInfo,
  type ChainResult,
  type Language,
  type MessageRef,
  type RuntimeKind,
  type Settings,
  type SettingsPatch,
  type SsmaxApi,
  type SsmaxClient,
  type StartupNotice,
} from '../api';
import { CardSession, type CardSessionOptions } from './card/card-session';
import { ComposeService, type ComposeDeps } from './compose/service';
import { EnrollmentService } from './enrollment/service';
import { EventHub } from './events';
import { firstLaunchMethods, openFirstLaunch, type FirstLaunchHostOptions } from './first-launch/host';
import type { FirstLaunchService } from './first-launch/service';
import { MailService, type MailServiceOptions } from './mail/service';
import type { SecretStore } from './secrets/secret-store';
import { imapMessageSource } from './open/imap-source';
import { ReportService } from './report/service';
import { verificationRecord, type OpenTrust } from './open/open-message';
import { CrlCache, httpCrlFetch, type CrlFetch } from './open/revocation';
import {
  OpenService,
  saveIntoDirectory,
  type ChooseSavePath,
  type MessageSource,
} from './open/service';
import { SettingsStore, SettingsWriteFailed, defaultSettings } from './settings/store';

/**
 * The service host: the one implementation of `SsmaxApi`, in plain Node. Electron's main process
 * and the loopback bridge both delegate to an instance of it, so the UI sees the same behaviour
 * through either transport. What this build cannot do yet answers `NotAvailableYet`.
 */
export interface ServiceHostOptions {
  /** Where settings (and later the cache and outbox) live; Electron passes `app.getPath('userData')`. */
  dataDir: string;
  runtime: RuntimeKind;
  /** Language used until the user picks one (Electron passes the OS locale). Default English. */
  defaultLanguage?: Language;
  /** Defaults to the version in package.json. */
  version?: string;
  versions?: { electron?: string; chrome?: string };
  /** Mail account tuning (tests: reconnect backoff, poll interval). */
  mail?: Pick<MailServiceOptions, 'account' | 'loginTimeoutMs'>;
  /** Where account passwords live: Electron passes the OS keychain (electron/secrets.ts); default `<dataDir>/secrets.json`, 0600 (client/secrets). */
  secrets?: SecretStore;
  /** First launch (client/first-launch): SSMAX root(s), provisioning file, bundle base URL, TLS CA, refresh interval. */
  firstLaunch?: FirstLaunchHostOptions;
  /** The card service (client/card): launcher (fork or Electron utilityProcess), env, PIN cache lifetime. */
  card?: CardSessionOptions;
  /** Opening messages (client/open). */
  open?: OpenHostOptions;
  /** Compose and the outbox (client/compose). */
  compose?: ComposeHostOptions;
}

export interface ComposeHostOptions {
  /** Submission server override (default: the pinned bundle's submission host / the provisioning file's smtp). */
  smtp?: { host: string; port: number };
  /** PEM CA for the submission server's TLS (an org's private CA); default the system CAs. */
  smtpCaPem?: string;
  retryDelayMs?: ComposeDeps['retryDelayMs'];
}

export interface OpenHostOptions {
  /** The SSMAX root(s) and the own org, until first launch pins them from the org bundle. */
  trust?: Omit<OpenTrust, 'recipient'>;
  /** Raw message bytes by folder/UID (the IMAP fetch); tests hand bytes over in memory. */
  source?: MessageSource;
  /** Where attachments go: Electron passes a save dialog; default `<dataDir>/attachments`, never overwriting. */
  chooseSavePath?: ChooseSavePath;
  /** Evaluation time for verification (tests with generated worlds). */
  now?: () => Date;
  /**
   * Revocation at read time (client/open/revocation.ts): the CRLs at the chain's distribution points
   * are fetched (HTTP(S), short timeout, cached in `<dataDir>/crls`). `fetch` replaces the HTTP GET
   * (tests); `false` checks against no CRL at all (every link then says revocation was not checked).
   */
  revocation?: { fetch?: CrlFetch; timeoutMs?: number } | false;
  /** The user allowed remote content of a message: its exact remote URLs (the Electron shell's network gate). */
  onRemoteContentAllowed?: (urls: readonly string[]) => void;
}

export class ServiceHost implements SsmaxClient {
  readonly events: EventHub;
  private readonly notices: StartupNotice[];
  /** Set right after construction in `open` (it needs the event hub). */
  #mail!: MailService;
  #org!: FirstLaunchService;
  #compose!: ComposeService;
  readonly #card: CardSession;
  readonly #open: OpenService;
  readonly #report: ReportService;
  readonly #enrollment: EnrollmentService;

  private constructor(
    private readonly opts: ServiceHostOptions,
    private readonly settingsStore: SettingsStore,
    notices: StartupNotice[],
  ) {
    this.events = new EventHub((event, err) => console.error(`ssmax: a listener of ${event} failed:`, err));
    this.notices = notices;
    this.#card = new CardSession(this.events, opts.card);
    this.#open = new OpenService({
      card: this.#card,
      source: opts.open?.source ?? imapMessageSource(() => this.#mail),
      trust: (ref) => this.trustFor(ref),
      chooseSavePath: opts.open?.chooseSavePath ?? saveIntoDirectory(join(opts.dataDir, 'attachments')),
      ...(opts.open?.now ? { now: opts.open.now } : {}),
      ...(opts.open?.revocation === false ? {} : { crlSource: this.crlCache(opts).source }),
      onVerified: (ref, chain) => this.cacheVerification(ref, chain),
      ...(opts.open?.onRemoteContentAllowed ? { onRemoteContentAllowed: opts.open.onRemoteContentAllowed } : {}),
    });
    this.#enrollment = new EnrollmentService({
      card: this.#card,
      org: () => this.#org?.enrollmentTarget(),
      roots: () => this.rootsInEffect(),
      emit: (p) => this.events.emit('enrollment.progress', p),
      ...(opts.firstLaunch?.tlsCaPem ? { tlsCaPem: opts.firstLaunch.tlsCaPem } : {}),
    });
    this.#report = new ReportService({
      card: this.#card,
      source: opts.open?.source ?? imapMessageSource(() => this.#mail),
      desk: () => {
        const desk = this.#org?.abuseDesk();
        const orgCa = this.#org?.currentOrgCaCertificate();
        return desk && orgCa ? { url: desk.url, orgCa, tlsCaPem: desk.tlsCaPem } : undefined;
      },
    });
  }

  /** The CRL cache messages.open verifies with; TLS to the org nodes trusts the system CAs plus IT's private CA. */
  private crlCache(opts: ServiceHostOptions): CrlCache {
    const revocation = opts.open?.revocation || undefined;
    return new CrlCache({
      dir: join(opts.dataDir, 'crls'),
      ...(opts.open?.now ? { now: opts.open.now } : {}),
      fetch:
        revocation?.fetch ??
        httpCrlFetch({
          tlsCaPem: () => this.#org?.pinnedTlsCaPem() ?? opts.firstLaunch?.tlsCaPem,
          ...(revocation?.timeoutMs !== undefined ? { timeoutMs: revocation.timeoutMs } : {}),
        }),
    });
  }

  /** The SSMAX roots as first launch sees them (throws first launch's no-trust-anchor with its reason). */
  private async rootsInEffect(): Promise<Uint8Array[]> {
    const given = this.opts.firstLaunch?.roots;
    if (given?.length) return [...given];
    return (await this.#org?.trustAnchors()) ?? [];
  }

  /** Keeps the result of an open in the message cache, so the list can show the state (never fails the open). */
  private cacheVerification(ref: MessageRef, chain: ChainResult): void {
    try {
      const cache = this.#mail?.cache;
      const folder = cache?.folder(ref.accountId, ref.path);
      if (!cache || !folder) return;
      cache.setVerification(folder.id, ref.uid, JSON.stringify(verificationRecord(chain)));
    } catch (err) {
      console.error('ssmax: could not cache a verification result:', err);
    }
  }

  /** The card session (service process, PIN prompts, card events). */
  get cardSession(): CardSession {
    return this.#card;
  }

  /**
   * The trust a message is verified with: the SSMAX root(s) (host config, else first launch's
   * roots: the option, IT's provisioning file or the root shipped with the app), the own org (host config, else the pinned org bundle's domains, else the account's
   * org) and the recipient (the account's address, else the pinned address).
   */
  private async trustFor(ref: MessageRef): Promise<OpenTrust> {
    const trust = this.opts.open?.trust;
    let anchors: OpenTrust['trustAnchors'];
    try {
      anchors = trust?.trustAnchors ?? (await this.rootsInEffect());
    } catch (cause) {
      throw new ApiError('NotFound', `No SSMAX root to verify with: ${cause instanceof Error ? cause.message : String(cause)}`, {
        method: 'messages.open',
      });
    }
    if (anchors.length === 0)
      throw new ApiError('NotFound', 'No SSMAX root is configured yet (first launch has not pinned an org).', {
        method: 'messages.open',
      });
    const account = this.#mail?.listAccounts().find((a) => a.id === ref.accountId);
    const pinned = this.#org?.status();
    const ownOrgDomains = trust?.ownOrgDomains ?? pinned?.org?.domains ?? account?.org?.domains;
    const recipient = account?.email ?? pinned?.address;
    return {
      ...trust,
      trustAnchors: anchors,
      ...(ownOrgDomains ? { ownOrgDomains } : {}),
      ...(recipient ? { recipient } : {}),
    };
  }

  static async open(opts: ServiceHostOptions): Promise<ServiceHost> {
    const { store, problem } = await SettingsStore.open(
      opts.dataDir,
      defaultSettings(opts.defaultLanguage ?? 'en'),
    );
    const notices: StartupNotice[] = [];
    if (problem !== undefined) {
      console.error(`ssmax: ${problem.message}`, problem.cause);
      notices.push({ code: 'SettingsFileCorrupt', message: problem.message, keptAs: problem.keptAs });
    }
    const host = new ServiceHost(opts, store, notices);
    host.#mail = await MailService.open({
      dataDir: opts.dataDir,
      onProgress: (p) => host.events.emit('sync.progress', p),
      ...opts.mail,
      ...(opts.secrets ? { secrets: opts.secrets } : {}),
    });
    notices.push(...host.#mail.notices);
    host.#compose = await host.openCompose();
    host.#org = await openFirstLaunch(
      opts.dataDir,
      { card: host.#card.addressSource(), ...opts.firstLaunch },
      (event, payload) => host.events.emit(event, payload),
    );
    return host;
  }

  /**
   * Compose → card → durable outbox → SMTP (client/compose). The account's credentials are read
   * from accounts.json at each use; the org encryption certificate and the submission host come
   * from the pinned org bundle; the Sent copy is APPENDed to the account's Sent folder.
   */
  private async openCompose(): Promise<ComposeService> {
    const dataDir = this.opts.dataDir;
    const c = this.opts.compose;
    const service = await ComposeService.open({
      dataDir,
      // Password from the secret store (client/secrets), never from accounts.json.
      account: (accountId) => this.#mail.credentials(accountId),
      org: async () => {
        const cert = this.#org?.currentEncryptionCertificate();
        const smtp = c?.smtp ?? this.#org?.status().mail?.smtp;
        if (!cert || !smtp)
          throw new ApiError('Refused', 'No valid org bundle is pinned: there is no org key to encrypt to (first launch, or the bundle expired).', { method: 'compose.send' });
        const orgCa = this.#org?.currentOrgCaCertificate();
        return {
          encryptionCertificate: cert,
          smtp,
          ...(c?.smtpCaPem ? { smtpCaPem: c.smtpCaPem } : {}),
          ...(orgCa ? { chainCertificates: [orgCa] } : {}),
        };
      },
      withCard: (description, op) =>
        this.#card.run('compose.send', description, (card) =>
          op(async () => {
            const signer = await card.openSigner();
            const decryptor = await card.openDecryptor();
            return { signer, ownEncryptionCertificate: decryptor.certificate, decryptor };
          }),
        ),
      // Replies and forwards: the original's exact bytes from the mailbox (decrypted on the card in the same action).
      fetchOriginal: (ref) => (this.opts.open?.source ?? imapMessageSource(() => this.#mail)).fetchRaw(ref),
      storeSent: async (copy, entry) => {
        const account = this.#mail.account(entry.accountId);
        if (!account) throw new Error(`account ${entry.accountId} is not running`);
        const sent = this.#mail.listFolders(entry.accountId).find((f) => f.role === 'sent')?.path ?? 'Sent';
        await account.connection.run((client) => client.append(sent, copy, ['\\Seen']));
      },
      onChanged: (entries) => this.events.emit('outbox.changed', entries),
      ...(c?.retryDelayMs ? { retryDelayMs: c.retryDelayMs } : {}),
    });
    for (const p of service.outbox.problems) console.error(`ssmax: ${p}`);
    service.start();
    return service;
  }

  /** The mail service (accounts, sync, cache); tests reach accounts and the cache through it. */
  get mail(): MailService {
    return this.#mail;
  }

  /** Stops the mail connections and closes the cache. */
  async close(): Promise<void> {
    this.#card.stop();
    await this.#compose?.close();
    await this.#mail.close();
    await this.#org?.close();
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  readonly app: SsmaxApi['app'] = {
    info: async (): Promise<AppInfo> => {
      const versions: AppInfo['versions'] = { node: process.versions.node, ...this.opts.versions };
      return {
        name: 'SSMAX',
        version: this.opts.version ?? packageVersion(),
        runtime: this.opts.runtime,
        versions,
        platform: process.platform,
        notices: [...this.notices],
      };
    },
  };

  readonly settings: SsmaxApi['settings'] = {
    get: async (): Promise<Settings> => this.settingsStore.get(),
    update: async (patch: SettingsPatch): Promise<Settings> => {
      let next: Settings;
      try {
        next = await this.settingsStore.update(patch);
      } catch (err) {
        if (err instanceof SettingsWriteFailed)
          throw new ApiError('StorageFailed', err.message, { method: 'settings.update', cause: err });
        throw err;
      }
      this.events.emit('settings.changed', next);
      return next;
    },
  };

  // Mail (client/mail/): accounts added by hand, folders and pages from the cache, flags on the server.
  // The rest is declared for issues 7–8, not built yet: each answers NotAvailableYet (see api/channels.ts).
  readonly accounts: SsmaxApi['accounts'] = {
    list: async () => this.#mail.listAccounts(),
    add: (account) => this.#mail.addAccount(account),
    remove: (id) => this.#mail.removeAccount(id),
    discover: (email) => this.#firstLaunch.discover(email),
    confirm: (id, imapPassword) => this.confirmOrg(id, imapPassword),
  };

  /**
   * First launch's confirm: with the IMAP password, and IMAP settings from IT's provisioning file,
   * the mail account is created first (login checked; a refused login pins nothing, so the user can
   * retype), then the org bundle is pinned. Without a password only the pin; the returned account
   * carries the prefilled IMAP settings for `accounts.add`.
   */
  private async confirmOrg(id: string, imapPassword: string | undefined): Promise<Account> {
    if (imapPassword === undefined) return this.#firstLaunch.confirm(id);
    const d = this.#org.discovered(id);
    if (!d) return this.#firstLaunch.confirm(id); // not discovered: the usual Refused
    if (!d.mail.imap)
      throw new ApiError('Refused', 'IT gave no IMAP server for this organisation: confirm without a password, then add the account by hand.', { method: 'accounts.confirm' });
    const account = await this.#mail.addAccount(
      // IT's private CA (provisioning `tlsCaPem`) also vouches for its IMAP server's TLS.
      { email: d.address, imap: { ...d.mail.imap, username: d.address, password: imapPassword, ...(d.tlsCaPem ? { caCertPem: d.tlsCaPem } : {}) } },
      'accounts.confirm',
    );
    const pinned = await this.#firstLaunch.confirm(id);
    return { ...account, ...(pinned.org ? { org: pinned.org } : {}) };
  }
  readonly #firstLaunch = firstLaunchMethods(() => this.#org);
  /** First launch and the pinned org bundle (client/first-launch). */
  readonly org: SsmaxApi['org'] = this.#firstLaunch.org;
  readonly folders: SsmaxApi['folders'] = { list: async (accountId) => this.#mail.listFolders(accountId) };
  readonly messages: SsmaxApi['messages'] = {
    page: (query) => this.#mail.page(query),
    open: (ref, options) => this.#open.open(ref, options),
    setFlags: (ref, flags) => this.#mail.setFlags(ref, flags),
    saveAttachment: (ref) => this.#open.saveAttachment(ref),
  };
  readonly compose: SsmaxApi['compose'] = {
    checkPpap: (draft) => this.#compose.checkPpap(draft),
    send: (draft) => this.#compose.send(draft),
  };
  readonly outbox: SsmaxApi['outbox'] = {
    list: async () => this.#compose.list(),
    retry: (id) => this.#compose.retry(id),
  };
  /** Recipient completion from the mail cache (client/mail). */
  readonly contacts: SsmaxApi['contacts'] = { suggest: async (prefix) => this.#mail.cache.suggestAddresses(prefix, 20) };
  readonly card: SsmaxApi['card'] = { status: () => this.#card.status() };
  readonly pin: SsmaxApi['pin'] = {
    answer: (requestId, pin) => this.#card.answer(requestId, pin),
    cancel: (requestId) => this.#card.cancel(requestId),
  };
  /** IT mode: enrolls the card in the reader through the card service and the org node's enrollment API (client/enrollment). */
  readonly enrollment: SsmaxApi['enrollment'] = {
    start: (request) => this.#enrollment.start(request),
    cancel: (id) => this.#enrollment.cancel(id),
  };
  /** Report as malicious (client/report): the signed message to the pinned org's abuse desk. */
  readonly report: SsmaxApi['report'] = { malicious: (ref, reason) => this.#report.malicious(ref, reason) };
}

let cachedVersion: string | undefined;
function packageVersion(): string {
  cachedVersion ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cachedVersion;
}
