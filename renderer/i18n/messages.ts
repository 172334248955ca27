import type { AreaStrings } from './define';
import type { ApiErrorCode, CardState, Language, RuntimeKind, StartupNotice } from '../../api';
import { cardStrings } from '../card/strings';
import { chainStrings } from '../chain/strings';
import { composeStrings } from '../compose/strings';
import { enrollmentStrings } from '../enrollment/strings';
import { firstLaunchStrings } from '../first-launch/strings';
import { mailStrings } from '../mail/strings';

/**
 * Every string the UI shows, in English and Japanese. The English table defines the keys; the
 * Japanese table must have exactly the same keys (a missing or extra one does not compile). The
 * Japanese wording follows SPEC §11, the words the users know.
 */
const base = {
  'app.name': 'SSMAX',
  'app.tagline': 'Organisational S/MIME',
  'nav.mail': 'Mail',
  'nav.settings': 'Settings',
  'nav.main': 'Main',
  'header.org.label': 'Organisation',
  'header.org.none': 'No organisation yet',
  'header.card.label': 'Staff ID card',
  'header.card.unavailable': 'Card status is not available in this version yet',
  'folders.heading': 'Folders',
  'folders.noAccount.title': 'No account yet',
  'folders.noAccount.body': 'Setting up an account (first launch) is not available in this version yet.',
  'list.heading': 'Messages',
  'list.empty': 'No messages to show.',
  'reading.heading': 'Message',
  'reading.empty': 'Select a message to read it and see its signature chain.',
  'settings.heading': 'Settings',
  'settings.language.legend': 'Display language',
  'settings.language.saved': 'Saved. The display language is now English.',
  'settings.about.heading': 'About SSMAX',
  'settings.about.version': 'Version',
  'settings.about.runtime': 'Running as',
  loading: 'Loading…',
  'connection.failed.title': 'Cannot reach SSMAX',
  'connection.noToken':
    'This page was opened without its access token. Open the full address that SSMAX printed when it started.',
  'connection.lost': 'The connection to SSMAX was lost. Restart SSMAX and open its new address.',
} as const;

const baseJa: Record<keyof typeof base, string> = {
  'app.name': 'SSMAX',
  'app.tagline': '組織通信向けS/MIME',
  'nav.mail': 'メール',
  'nav.settings': '設定',
  'nav.main': 'メインメニュー',
  'header.org.label': '組織',
  'header.org.none': '組織はまだ設定されていません',
  'header.card.label': '社員証・職員証（ICカード）',
  'header.card.unavailable': 'ICカードの状態表示は、このバージョンではまだ利用できません',
  'folders.heading': 'フォルダー',
  'folders.noAccount.title': 'アカウントはまだありません',
  'folders.noAccount.body': 'アカウントの設定（初回起動）は、このバージョンではまだ利用できません。',
  'list.heading': 'メール一覧',
  'list.empty': '表示するメールはありません。',
  'reading.heading': 'メール',
  'reading.empty': 'メールを選択すると、本文と署名の連鎖が表示されます。',
  'settings.heading': '設定',
  'settings.language.legend': '表示言語',
  'settings.language.saved': '保存しました。表示言語は日本語になりました。',
  'settings.about.heading': 'SSMAXについて',
  'settings.about.version': 'バージョン',
  'settings.about.runtime': '実行環境',
  loading: '読み込み中…',
  'connection.failed.title': 'SSMAXに接続できません',
  'connection.noToken':
    'このページはアクセス用トークンなしで開かれました。SSMAXが起動時に表示したアドレスをそのまま開いてください。',
  'connection.lost': 'SSMAXとの接続が切れました。SSMAXを再起動し、新しいアドレスを開いてください。',
};

// Each UI area's strings (renderer/<area>/strings.ts, made with defineStrings), merged here.
const areas = [chainStrings, mailStrings, cardStrings, composeStrings, firstLaunchStrings, enrollmentStrings] as const;

type KeysOf<A> = A extends AreaStrings<infer K> ? K : never;
type AreaKey = KeysOf<(typeof areas)[number]>;
export type MessageKey = keyof typeof base | AreaKey;

const areaList: readonly AreaStrings<string>[] = areas;
const en = Object.assign({}, base, ...areaList.map((a) => a.en)) as Record<MessageKey, string>;
const ja = Object.assign({}, baseJa, ...areaList.map((a) => a.ja)) as Record<MessageKey, string>;

/** Names of the languages, each in its own language (what a language switch should show). */
export const LANGUAGE_NAMES: Record<Language, string> = { ja: '日本語', en: 'English' };

const errors: Record<Language, Record<ApiErrorCode, string>> = {
  en: {
    NotAvailableYet: 'This is not available in this version yet.',
    InvalidArguments: 'SSMAX did not accept the request (invalid input).',
    UnknownMethod: 'SSMAX does not know this request.',
    Refused: 'SSMAX refused the request.',
    Disconnected: 'The connection to SSMAX was lost.',
    StorageFailed: 'SSMAX could not save this. Check the disk and try again.',
    NotFound: 'This account, folder or message no longer exists.',
    ServerUnavailable: 'The mail server cannot be reached now. SSMAX keeps trying.',
    LoginFailed: 'The mail server refused the user name or password.',
    PinCancelled: 'PIN entry was cancelled. Nothing was signed or decrypted.',
    WrongPin: 'Wrong PIN.',
    PinBlocked: 'The PIN is blocked. Unblock it with the PUK, or ask IT.',
    CardUnavailable: 'Insert your staff ID card and try again.',
    AttachmentRefused: 'This attachment was judged dangerous and cannot be saved.',
    PpapWarning: 'A password-protected archive (PPAP) is attached: your organisation cannot inspect it. Send it only if you are sure.',
    Internal: 'Something went wrong inside SSMAX.',
  },
  ja: {
    NotAvailableYet: 'この機能は、このバージョンではまだ利用できません。',
    InvalidArguments: 'SSMAXが要求を受け付けませんでした（入力が不正です）。',
    UnknownMethod: 'SSMAXが知らない要求です。',
    Refused: 'SSMAXが要求を拒否しました。',
    Disconnected: 'SSMAXとの接続が切れました。',
    StorageFailed: 'SSMAXが保存できませんでした。ディスクを確認して、もう一度お試しください。',
    NotFound: 'このアカウント、フォルダーまたはメールはもう存在しません。',
    ServerUnavailable: 'メールサーバーに接続できません。SSMAXは接続を試み続けます。',
    LoginFailed: 'メールサーバーがユーザー名またはパスワードを拒否しました。',
    PinCancelled: 'PINの入力が取り消されました。署名も復号もしていません。',
    WrongPin: 'PINが違います。',
    PinBlocked: 'PINがロックされています。PUKで解除するか、IT部門に連絡してください。',
    CardUnavailable: '社員証カードを挿入して、もう一度お試しください。',
    AttachmentRefused: 'この添付ファイルは危険と判定されたため保存できません。',
    PpapWarning: 'パスワード付きZIP（PPAP）が添付されています。組織の検査ができません。送信してよいか確認してください。',
    Internal: 'SSMAX内部でエラーが発生しました。',
  },
};

const cardStates: Record<Language, Record<CardState, string>> = {
  en: {
    'no-reader': 'No card reader',
    'no-card': 'No card inserted',
    ready: 'Card ready',
    locked: 'Card inserted (PIN asked when needed)',
    blocked: 'Card blocked (PUK needed)',
    'unknown-card': 'Not a staff ID card',
  },
  ja: {
    'no-reader': 'カードリーダーがありません',
    'no-card': 'カードが挿入されていません',
    ready: 'カード使用可能',
    locked: 'カード挿入済み（必要なときにPINを入力）',
    blocked: 'カードがブロックされています（PUKが必要）',
    'unknown-card': '社員証・職員証ではありません',
  },
};

const runtimes: Record<Language, Record<RuntimeKind, string>> = {
  en: { electron: 'Desktop app', bridge: 'Browser (loopback bridge)' },
  ja: { electron: 'デスクトップアプリ', bridge: 'ブラウザー（ループバック接続）' },
};

const notices: Record<Language, Record<StartupNotice['code'], string>> = {
  en: {
    SettingsFileCorrupt:
      'Your settings file could not be read, so the default settings are in use. The unreadable file was kept for IT.',
    AccountsFileCorrupt:
      'Your mail accounts file could not be read, so no account is set up. The unreadable file was kept for IT; add your account again.',
    MailCacheRebuilt: 'The local mail cache could not be read and is being rebuilt from the mail server.',
    AccountPasswordUnavailable:
      'The saved password of a mail account cannot be read here, so that account is not connected. Open the SSMAX desktop app, or enter the password again.',
  },
  ja: {
    SettingsFileCorrupt:
      '設定ファイルを読み込めなかったため、初期設定を使用しています。読み込めなかったファイルはIT担当者向けに保存してあります。',
    AccountsFileCorrupt:
      'メールアカウントのファイルを読み込めなかったため、アカウントが設定されていません。ファイルはIT担当者向けに保存してあります。アカウントをもう一度追加してください。',
    MailCacheRebuilt: 'ローカルのメールキャッシュを読み込めなかったため、メールサーバーから再構築しています。',
    AccountPasswordUnavailable:
      '保存されたメールアカウントのパスワードをここでは読み取れないため、そのアカウントは接続されていません。SSMAXデスクトップアプリを開くか、パスワードをもう一度入力してください。',
  },
};

export interface Dictionary {
  t(key: MessageKey): string;
  error(code: ApiErrorCode): string;
  cardState(state: CardState): string;
  runtime(kind: RuntimeKind): string;
  notice(code: StartupNotice['code']): string;
}

export function dictionary(language: Language): Dictionary {
  const table = language === 'ja' ? ja : en;
  return {
    t: (key) => table[key],
    error: (code) => errors[language][code],
    cardState: (state) => cardStates[language][state],
    runtime: (kind) => runtimes[language][kind],
    notice: (code) => notices[language][code],
  };
}
