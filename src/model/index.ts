/** The model stage: trace conformance, data and counter oracles, design checking. */
export { replayTrace, LIFETIME_PATHS } from './replay.js';
export { replayRefcounted } from './refcount-replay.js';
export { replayHistory, type ReplayModel } from './replay-model.js';
export type { LifetimeStats, LifetimePath, ReplayOptions, ReplayResult, InconclusiveSlot } from './replay.js';
export { checkData } from './data-oracle.js';
export type { DataCheckResult, DataMismatch } from './data-oracle.js';
export { checkCounters, CHECKED_COUNTERS } from './counters.js';
export type { CheckedCounter, CounterCheckOptions, CounterCheckResult, CounterFinding } from './counters.js';
export { checkDesign, listDesigns, DEFAULT_BOUNDS } from './design/checker.js';
export type { CounterexampleStep, DesignBounds, DesignCheckResult, DesignInfo, DesignViolation } from './design/checker.js';
export { RULES, RULE_IDS, describeCall } from './rules.js';
export type { RuleId, Violation } from './rules.js';
export { parseTrace, readTraceFile } from './trace-file.js';
export { formatDesignCheck, formatReplay, formatViolation } from './format.js';
export type { CounterSnapshot, DataEvent, Slot, SwapoffMarkerName, TraceCall, TraceCallKind } from './trace-types.js';
