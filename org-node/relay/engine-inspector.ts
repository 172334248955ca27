import { applyPolicy, inspectMessage, toAttestation, type InspectionLimits, type InspectionPolicy, type LeakRules } from '../inspection';
import type { ClamdAddress } from '../inspection/clamd-client';
import type { Scanner } from '../inspection/scanner';
import { OrgNodeError } from '../errors';
import type { Inspector } from './types';

/**
 * The relay's inspector over the inspection engine (`org-node/inspection`): `inspectMessage` on the
 * signed content, `applyPolicy`, the attestation for the countersignature. Outbound mail gets the
 * leak rules; inbound and internal mail are inspected as inbound (malware, names, PPAP).
 * Policy actions: deliver / deliver-flagged → pass (the attestation says what was not inspectable);
 * reject → block with the engine's reason; hold → hold (the copies wait in the spool's held/ for
 * an administrator); defer → throw (the SMTP side answers 4xx).
 */
export interface EngineInspectorOptions {
  readonly clamd: ClamdAddress | Scanner;
  readonly policy?: InspectionPolicy;
  readonly leakRules?: LeakRules;
  readonly limits?: InspectionLimits;
}

export class InspectionDeferredError extends OrgNodeError {}

export function engineInspector(o: EngineInspectorOptions): Inspector {
  return async ({ content, direction }) => {
    const report = await inspectMessage(content, {
      direction: direction === 'outbound' ? 'outbound' : 'inbound',
      clamd: o.clamd,
      ...(o.leakRules ? { leakRules: o.leakRules } : {}),
      ...(o.limits ? { limits: o.limits } : {}),
    });
    const decision = applyPolicy(report, o.policy);
    const { hop: _hop, ...attestation } = toAttestation(report, 'sending-org');
    switch (decision.action) {
      case 'deliver':
      case 'deliver-flagged':
        return { attestation, decision: { action: 'pass' } };
      case 'reject':
        return { attestation, decision: { action: 'block', reason: decision.reason } };
      case 'hold':
        return { attestation, decision: { action: 'hold', reason: decision.reason } };
      case 'defer':
        throw new InspectionDeferredError(decision.reason);
    }
  };
}
