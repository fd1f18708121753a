import { z } from 'zod';
import { DEFAULT_BRANCH } from '../core/ids.js';
import { branchName, uint } from './primitives.js';
import { validate } from './validate.js';
import { parseVersionSelector, type VersionSelector } from './version-selector.js';

/** `POST …/branches`: a new branch from any point of another (SPEC §4). */
export const createBranchSchema = z
  .strictObject({
    name: branchName,
    from: z
      .strictObject({
        branch: branchName.optional(),
        seq: uint.optional(),
        epoch: uint.optional(),
        at: z.union([uint, z.string()]).optional(),
        heads: z.union([z.array(z.string()), z.string()]).optional(),
      })
      .optional()
      .meta({ description: 'where to fork: a branch (default main) and at most one version' }),
  })
  .meta({ id: 'CreateBranchRequest' });

export interface CreateBranchRequest {
  name: string;
  from: { branch: string; version: VersionSelector };
}

/** `POST …/branches` (SPEC §4): `{name, from: {branch, seq?|epoch?|at?|heads?}}`. */
export function parseCreateBranch(body: unknown, maxHeads: number): CreateBranchRequest {
  return createBranchFrom(validate(createBranchSchema, body, 'body'), maxHeads);
}

/** A create-branch body that passed its schema, with its version selector parsed. */
export function createBranchFrom(
  raw: z.output<typeof createBranchSchema>,
  maxHeads: number,
): CreateBranchRequest {
  const { name, from = {} } = raw;
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

export const closeBranchSchema = z
  .strictObject({ mergedInto: branchName.optional() })
  .meta({ id: 'CloseBranchRequest' });
export const mergeBranchSchema = z
  .strictObject({ into: branchName })
  .meta({ id: 'MergeBranchRequest' });
export const makeSnapshotSchema = z
  .strictObject({ branch: branchName.optional(), seq: uint.optional() })
  .meta({ id: 'MakeSnapshotRequest' });

/** `POST …/branches/:name/close` body (may be empty). */
export function parseCloseBranch(body: unknown): { mergedInto?: string } {
  const { mergedInto } = validate(closeBranchSchema, body ?? {}, 'body');
  return mergedInto === undefined ? {} : { mergedInto };
}

/** `POST …/branches/:name/merge` body. */
export function parseMergeBranch(body: unknown): { into: string } {
  return validate(mergeBranchSchema, body, 'body');
}

/** `POST …/snapshots` body (SPEC §5). */
export function parseMakeSnapshot(body: unknown): { branch: string; seq?: number } {
  const { branch = DEFAULT_BRANCH, seq } = validate(makeSnapshotSchema, body ?? {}, 'body');
  return seq === undefined ? { branch } : { branch, seq };
}
