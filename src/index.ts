/** The embedding API of cairn (SPEC §8 "Embedding"). */
export { createCairn, type Cairn, type CairnOptions } from './app/create-cairn.js';
export { listen, toNodeListener, type RunningServer } from './app/serve.js';
export type { Invariant, InvariantContext } from './pipeline/invariants.js';
export { CairnError, ERROR_CODES, type ErrorCode } from './core/errors.js';
export { DEFAULT_LIMITS, type Limits } from './core/limits.js';
export type { TxReceipt, TxFailure, TxOutcome, WriteResult } from './protocol/receipt.js';
export type { TxRequest, TxWrite, TxRead } from './protocol/tx-request.js';
export { rootRef } from './crdt/heads.js';
