import { describe, expect, it } from 'vitest';
import type { ChainLinkRole, ChainLinkStatus, TrustState } from '../../api';
import type { ChainRole, LinkStatus, MessageState } from '../../smime/chain';

/**
 * api/ may not import smime/, so it mirrors the core's words. This file fails to type-check
 * (`npm run typecheck`) the moment the two drift apart: the UI must never show a state, role or
 * status that the core does not produce, nor miss one it does.
 */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const sameStates: Equal<TrustState, MessageState> = true;
const sameRoles: Equal<ChainLinkRole, ChainRole> = true;
const sameStatuses: Equal<ChainLinkStatus, LinkStatus> = true;

describe('the API chain model mirrors the S/MIME core', () => {
  it('has the same states, roles and link statuses (checked by the type checker)', () => {
    expect([sameStates, sameRoles, sameStatuses]).toEqual([true, true, true]);
  });
});
