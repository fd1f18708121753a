import type { z } from 'zod';
import type { Ability } from '../core/abilities.js';
import type { ErrorCode } from '../core/errors.js';

/*
 * The shape of one HTTP route of the route table (protocol/api.ts): what the
 * server mounts, validates and checks, and what /openapi.json documents.
 */

/** A response body: JSON with a schema, or raw bytes of a media type. */
export type BodySpec =
  | {
      json: z.ZodType;
      /** An empty request body stands for `{}` (bodies whose fields are all optional). */
      mayBeEmpty?: boolean;
    }
  | { binary: string };

export interface RouteSpec {
  /** Unique, stable (the OpenAPI operationId). */
  id: string;
  /**
   * The ability over the path's space a request needs (SPEC §7), checked
   * before anything else; null: public (no token, no tenant data).
   */
  can: Ability | null;
  method: 'get' | 'post' | 'put' | 'delete';
  /** Hono syntax: `/v1/:space/docs/:docId`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  /** Path parameters (every `:name` of the path). */
  params?: z.ZodObject;
  /** Query parameters, all strings (repeating one is a ValidationError). */
  query?: z.ZodObject;
  body?: BodySpec;
  /** The success answers by status. */
  ok: Record<number, { description: string; body?: BodySpec; headers?: Record<string, string> }>;
  /** Error codes this route can answer (each with its SPEC §9 status). */
  errors: readonly ErrorCode[];
  /**
   * The body of an error answered by the pipeline (a refused transaction,
   * with every write's status), beside the plain envelope of errors raised
   * before the transaction reached it.
   */
  refusal?: z.ZodType;
}
