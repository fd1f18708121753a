import { z } from 'zod';
import { CairnError, type ErrorCode } from '../core/errors.js';
import { branchName, docId, heads, hex256, uint } from './primitives.js';
import { txBodySchema } from './tx-request.js';
import { validate } from './validate.js';

/*
 * The live protocol's frames (SPEC §6, `GET /v1/:space/ws`), declared once for
 * the server, the client library and the docs. Client → server: invocations
 * `{id, cmd, args}` and cumulative acks; server → client: exactly one
 * `task/return` per invocation, `deliver` frames, and `error` before a close.
 */

/** A client-chosen job id, echoed in its `task/return`. */
export const jobId = z.union([z.string().max(128), z.number().int()]);

export const helloArgs = z.strictObject({
  clientId: z.string().min(1).max(128),
  sinceEpoch: uint.optional(),
  token: z
    .string()
    .max(64 * 1024)
    .optional(),
  encoding: z.enum(['json', 'cbor']).optional(),
});

export const getArgs = z.strictObject({ docId, branch: branchName.optional() });

export const subscribeArgs = z.strictObject({
  docId,
  branch: branchName.optional(),
  type: z.enum(['automerge', 'yjs']).optional(),
  /** The epoch up to which the client holds this doc (overrides hello's; 0: nothing). */
  sinceEpoch: uint.optional(),
});

export const unsubscribeArgs = z.strictObject({ subscriptionId: z.string().min(1).max(128) });

/** Every command and its arguments' schema. */
export const LIVE_COMMANDS = {
  '/storage/hello': helloArgs,
  '/storage/get': getArgs,
  '/storage/subscribe': subscribeArgs,
  '/storage/unsubscribe': unsubscribeArgs,
  '/storage/tx': txBodySchema,
} as const;

export type LiveCommand = keyof typeof LIVE_COMMANDS;

/** One parsed invocation, its args checked against its command's schema. */
export type Invocation = {
  [C in LiveCommand]: { id: string | number; cmd: C; args: z.output<(typeof LIVE_COMMANDS)[C]> };
}[LiveCommand];

/** What a client frame is: an invocation, an ack, or a refusal to answer with `id`. */
export type ClientFrame =
  | { type: 'invocation'; invocation: Invocation }
  | { type: 'ack'; epoch: number }
  | { type: 'refused'; id: string | number | null; error: CairnError };

const envelope = z.strictObject({ id: jobId, cmd: z.string().max(64), args: z.unknown() });
const ack = z.strictObject({ type: z.literal('ack'), epoch: uint });

/**
 * Reads one client frame (already decoded from JSON or CBOR) without
 * throwing: anything that is not a valid invocation or ack is `refused`
 * with the job id when one can be found (`null` otherwise), so the server
 * can answer it with one `task/return` error.
 */
export function parseClientFrame(value: unknown): ClientFrame {
  const idOf = (): string | number | null => {
    const id = (value as { id?: unknown } | null)?.id;
    return jobId.safeParse(id).success ? (id as string | number) : null;
  };
  try {
    if (value !== null && typeof value === 'object' && 'type' in value) {
      return { type: 'ack', epoch: validate(ack, value, 'frame').epoch };
    }
    const frame = validate(envelope, value, 'frame');
    const schema = (LIVE_COMMANDS as Record<string, z.ZodType>)[frame.cmd];
    if (!schema) {
      throw new CairnError('ValidationError', `unknown command ${JSON.stringify(frame.cmd)}`);
    }
    const args = validate(schema, frame.args ?? {}, 'args');
    return { type: 'invocation', invocation: { id: frame.id, cmd: frame.cmd, args } as Invocation };
  } catch (err) {
    const error =
      err instanceof CairnError ? err : new CairnError('ValidationError', 'malformed frame');
    return { type: 'refused', id: idOf(), error };
  }
}

/** One doc of a `deliver` frame: what one commit (or a catch-up) brings. */
export const deliveredDoc = z.strictObject({
  docId,
  branch: branchName,
  seq: uint,
  heads,
  rootRef: hex256,
  kind: z.enum(['changes', 'snapshot', 'yjs']),
  /** Changes: base64 strings (JSON) or byte strings (CBOR); snapshot: one. */
  body: z.union([z.array(z.string()), z.string()]),
});

export const deliverFrame = z
  .strictObject({ type: z.literal('deliver'), epoch: uint, docs: z.array(deliveredDoc) })
  .meta({ id: 'Deliver' });

export type DeliverFrame = z.output<typeof deliverFrame>;

/** The answer to an invocation: `ok` holds the command's result. */
export interface TaskReturn {
  type: 'task/return';
  id: string | number | null;
  ok?: unknown;
  error?: { code: ErrorCode; message: string; [detail: string]: unknown };
}

/** The `task/return` of a refused or failed invocation. */
export function taskError(id: string | number | null, err: CairnError): TaskReturn {
  return {
    type: 'task/return',
    id,
    error: { ...err.details, code: err.code, message: err.message },
  };
}
