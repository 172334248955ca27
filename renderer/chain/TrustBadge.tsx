import type { ReactNode } from 'react';
import type { TrustState } from '../../api';
import { useI18n } from '../i18n/i18n';
import { displayTrust, stateKey, trustSymbol } from './trust';
import './chain.css';

/** The one-word trust state of a message, with a symbol so it never rests on colour alone. */
export function TrustBadge({ trust, external }: { trust: TrustState | undefined; external: boolean }): ReactNode {
  const { t } = useI18n();
  const shown = displayTrust(trust, external);
  return (
    <span className={`trust-badge trust-${shown}`} data-trust={shown}>
      <span aria-hidden="true">{trustSymbol(shown)}</span> {t(stateKey(shown))}
    </span>
  );
}
