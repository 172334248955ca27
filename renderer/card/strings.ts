import { defineStrings } from '../i18n/define';

/** The staff card and the PIN dialog (SPEC §9: tries left, never retried automatically). */
export const cardStrings = defineStrings(
  {
    'card.pin.title': 'Enter your card PIN',
    'card.pin.purpose.sign': 'To sign with your staff ID card',
    'card.pin.purpose.decrypt': 'To decrypt with your staff ID card',
    'card.pin.purpose.enroll': 'To set up a staff ID card',
    'card.pin.label': 'PIN (6–8 characters)',
    'card.pin.triesLeft': 'Tries left before the card is blocked',
    'card.pin.lastTry': 'This is the last try: a wrong PIN now blocks the card.',
    'card.pin.ok': 'OK',
    'card.pin.cancel': 'Cancel',
    'card.pin.tooShort': 'The PIN has 6 to 8 characters.',
    'card.pin.failed': 'The PIN could not be passed to the card.',
    'card.pin.blocked':
      'The PIN is blocked after too many wrong tries. Unblock it with your PUK (from IT), or ask IT for help.',
    'card.holder': 'Card of',
    'card.pin.new.title': 'Choose the new PIN',
    'card.pin.new.label': 'New PIN (6–8 digits)',
    'card.pin.new.confirm': 'New PIN again',
    'card.pin.new.mismatch': 'The two entries differ: type the same new PIN twice.',
    'card.pin.new.digits': 'The new PIN is 6 to 8 digits.',
  },
  {
    'card.pin.title': 'ICカードのPINを入力してください',
    'card.pin.purpose.sign': '社員証・職員証（ICカード）で署名するため',
    'card.pin.purpose.decrypt': '社員証・職員証（ICカード）で復号するため',
    'card.pin.purpose.enroll': '社員証・職員証（ICカード）を設定するため',
    'card.pin.label': 'PIN（6〜8文字）',
    'card.pin.triesLeft': 'ロックまでの残り回数',
    'card.pin.lastTry': '最後の1回です。PINを間違えるとカードがロックされます。',
    'card.pin.ok': 'OK',
    'card.pin.cancel': 'キャンセル',
    'card.pin.tooShort': 'PINは6〜8文字です。',
    'card.pin.failed': 'PINをカードに渡せませんでした。',
    'card.pin.blocked':
      'PINの誤入力が多すぎたため、ロックされています。IT部門から受け取ったPUKで解除するか、IT部門に連絡してください。',
    'card.holder': 'カード所有者',
    'card.pin.new.title': '新しいPINを決めてください',
    'card.pin.new.label': '新しいPIN（6〜8桁の数字）',
    'card.pin.new.confirm': '新しいPIN（確認）',
    'card.pin.new.mismatch': '2回の入力が一致しません。同じ新しいPINを2回入力してください。',
    'card.pin.new.digits': '新しいPINは6〜8桁の数字です。',
  },
);
