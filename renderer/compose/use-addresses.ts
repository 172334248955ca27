import { useEffect, useState } from 'react';
import type { ContactSuggestion, SsmaxClient } from '../../api';

/** How long typing must pause before the cache is asked (every keystroke would be a round trip). */
export const SUGGEST_DELAY_MS = 150;

/**
 * Recipient completion for what is typed so far (`contacts.suggest`: senders and recipients in the
 * local mail cache, most frequent first; no server round trip, no card). Debounced; a late answer
 * for an older prefix is dropped. Best effort: any failure just means no suggestions.
 */
export function useContactSuggestions(client: SsmaxClient, prefix: string): ContactSuggestion[] {
  const [found, setFound] = useState<{ prefix: string; list: ContactSuggestion[] }>({ prefix: '', list: [] });
  const wanted = prefix.trim();
  useEffect(() => {
    if (wanted === '') return;
    let live = true;
    const timer = setTimeout(() => {
      client.contacts.suggest(wanted).then(
        (list) => live && setFound({ prefix: wanted, list }),
        () => live && setFound({ prefix: wanted, list: [] }),
      );
    }, SUGGEST_DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, wanted]);
  if (wanted === '' || found.prefix === '' || !wanted.toLowerCase().startsWith(found.prefix.toLowerCase())) return [];
  if (found.prefix === wanted) return found.list;
  // While the longer prefix is asked, the shorter one's answers that still fit stay (no flicker per key).
  const w = wanted.toLowerCase();
  return found.list.filter((c) => c.address.includes(w) || c.name.toLowerCase().includes(w));
}
