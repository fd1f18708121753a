/**
 * The closed set of error codes of SPEC §9. Every failure that reaches a client
 * carries exactly one of these; the HTTP status for each lives in
 * `src/server/error-status.ts` and nowhere else.
 */
export const ERROR_CODES = [
  'ValidationError',
  'LimitExceeded',
  'Unauthorized',
  'Forbidden',
  'FeatureDisabled',
  'DocNotFound',
  'BranchNotFound',
  'VersionNotFound',
  'SnapshotNotFound',
  'KeyNotFound',
  'ReadConflict',
  'StaleBaseHeads',
  'BranchClosed',
  'BranchExists',
  'RevisionMismatch',
  'InvalidChange',
  'MissingDependency',
  'NonMonotonicSeq',
  'InvariantFailed',
  'RateLimited',
  'QuotaExceeded',
  'StorageUnavailable',
  'NotFound',
  'MethodNotAllowed',
  'Internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Extra, code-specific fields of an error body (all optional, all JSON). */
export interface ErrorDetails {
  docId?: string;
  branch?: string;
  currentHeads?: string[];
  /** Name of the invariant that failed (`InvariantFailed`). */
  name?: string;
  /** Which limit was exceeded (`LimitExceeded`). */
  limit?: string;
  /** Index of the offending change within its write. */
  changeIndex?: number;
  /** Hash of the offending change or dependency. */
  hash?: string;
  /** The request this answers (`X-Request-Id`): quote it when reporting a problem. */
  requestId?: string;
  /** The live record's revision (`RevisionMismatch`); absent when there is none. */
  currentRevision?: number;
  /** Quotas and size limits (`QuotaExceeded`, `LimitExceeded`): what is used, what it would be, the maximum. */
  used?: number;
  requested?: number;
  max?: number;
  /** What a JSON Schema validator said (`ValidationError` of a KV put). */
  errors?: { path: string; message: string }[];
  /** The KV key an error is about (bulk puts). */
  key?: string;
}

/** A typed, expected failure. Anything else thrown is a bug and maps to `Internal`. */
export class CairnError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  /** `options.cause`: the underlying failure, kept for logs (never sent to clients). */
  constructor(
    code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CairnError';
    this.code = code;
    this.details = details;
  }

  /** The `error` object of the wire envelope. */
  toJSON(): { code: ErrorCode; message: string } & ErrorDetails {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isCairnError(err: unknown): err is CairnError {
  return err instanceof CairnError;
}
