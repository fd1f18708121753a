import { z } from 'zod';
import { CairnError } from '../core/errors.js';
import { DEFAULT_BRANCH, isBranchName } from '../core/ids.js';
import { parseVersionSelector, type VersionSelector } from './version-selector.js';

const branchName = z
  .string()
  .refine(isBranchName, { message: 'must match ^[A-Za-z0-9._/-]{1,128}$' });
const uint = z.number().int().nonnegative();

const createSchema = z.strictObject({
  name: branchName,
  from: z
    .strictObject({
      branch: branchName.optional(),
      seq: uint.optional(),
      epoch: uint.optional(),
      at: z.union([uint, z.string()]).optional(),
      heads: z.union([z.array(z.string()), z.string()]).optional(),
    })
    .optional(),
});

export interface CreateBranchRequest {
  name: string;
  from: { branch: string; version: VersionSelector };
}

function fail(issue: z.core.$ZodIssue | undefined): never {
  const where = issue ? issue.path.join('.') || 'body' : 'body';
  throw new CairnError('ValidationError', `${where}: ${issue?.message ?? 'invalid'}`);
}

/** `POST …/branches` (SPEC §4): `{name, from: {branch, seq?|epoch?|at?|heads?}}`. */
export function parseCreateBranch(body: unknown, maxHeads: number): CreateBranchRequest {
  const parsed = createSchema.safeParse(body);
  if (!parsed.success) fail(parsed.error.issues[0]);
  const { name, from = {} } = parsed.data;
  const query: Record<string, string | undefined> = {
    seq: from.seq?.toString(),
    epoch: from.epoch?.toString(),
    at: from.at?.toString(),
    heads: Array.isArray(from.heads) ? from.heads.join(',') : from.heads,
  };
  return {
    name,
    from: { branch: from.branch ?? DEFAULT_BRANCH, version: parseVersionSelector(query, maxHeads) },
  };
}

const closeSchema = z.strictObject({ mergedInto: branchName.optional() });
const mergeSchema = z.strictObject({ into: branchName });
const snapshotSchema = z.strictObject({ branch: branchName.optional(), seq: uint.optional() });

/** `POST …/branches/:name/close` body (may be empty). */
export function parseCloseBranch(body: unknown): { mergedInto?: string } {
  const parsed = closeSchema.safeParse(body ?? {});
  if (!parsed.success) fail(parsed.error.issues[0]);
  return parsed.data.mergedInto === undefined ? {} : { mergedInto: parsed.data.mergedInto };
}

/** `POST …/branches/:name/merge` body. */
export function parseMergeBranch(body: unknown): { into: string } {
  const parsed = mergeSchema.safeParse(body);
  if (!parsed.success) fail(parsed.error.issues[0]);
  return parsed.data;
}

/** `POST …/snapshots` body (SPEC §5). */
export function parseMakeSnapshot(body: unknown): { branch: string; seq?: number } {
  const parsed = snapshotSchema.safeParse(body ?? {});
  if (!parsed.success) fail(parsed.error.issues[0]);
  const { branch = DEFAULT_BRANCH, seq } = parsed.data;
  return seq === undefined ? { branch } : { branch, seq };
}
