import type { ErrorCode } from '../core/errors.js';

/** SPEC §9: the one table from error code to HTTP status. */
export const ERROR_STATUS: Readonly<
  Record<ErrorCode, 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 429 | 500 | 503>
> = {
  ValidationError: 400,
  LimitExceeded: 413,
  Unauthorized: 401,
  Forbidden: 403,
  FeatureDisabled: 403,
  DocNotFound: 404,
  BranchNotFound: 404,
  VersionNotFound: 404,
  SnapshotNotFound: 404,
  KeyNotFound: 404,
  ReadConflict: 409,
  StaleBaseHeads: 409,
  BranchClosed: 409,
  BranchExists: 409,
  RevisionMismatch: 409,
  InvalidChange: 422,
  MissingDependency: 422,
  NonMonotonicSeq: 422,
  InvariantFailed: 422,
  RateLimited: 429,
  QuotaExceeded: 429,
  StorageUnavailable: 503,
  NotFound: 404,
  MethodNotAllowed: 405,
  Internal: 500,
};
