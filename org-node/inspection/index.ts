/** The org node's inspection engine (SPEC §7): see README.md in this folder. */
export { inspectMessage, INSPECTOR_VERSION, type InspectOptions } from './engine';
export { applyPolicy, DEFAULT_POLICY, type InspectionPolicy, type PolicyAction, type PolicyDecision } from './policy';
export { toAttestation, attestedReason, parseAttestedReason, MAX_ATTESTED_REASON } from './attestation';
export { VERDICT_ORDER, worstVerdict, severity } from './verdict';
export { DEFAULT_LEAK_LABELS, DEFAULT_LEAK_RULES, findLeaks, isCardNumber, isValidMyNumber, luhnValid, maskNumber, myNumberCheckDigit, cardScheme } from './leak';
export { clamdScanner, splitVersion, type Scanner } from './scanner';
export {
  DEFAULT_LIMITS,
  REASON_CODES,
  type Direction,
  type Finding,
  type InspectionLimits,
  type InspectionReport,
  type LeakAction,
  type LeakRules,
  type PartReport,
  type ReasonCode,
  type Verdict,
} from './types';
