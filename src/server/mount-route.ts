import type { Context, Hono } from 'hono';
import type { RouteSpec } from '../protocol/api.js';
import { validate } from '../protocol/validate.js';
import { nextTurn, SLICE_BODY_CHARS } from './next-turn.js';
import { parseJsonBody, singleQuery } from './request-params.js';
import { OFF_THREAD_BODY_BYTES } from './tx-body-parser.js';

const UTF8 = new TextDecoder();

/** What a handler gets: the request parts its route declares, validated. */
export interface RouteInput {
  c: Context;
  /** Path parameters, checked against the route's `params` schema. */
  params: Record<string, string>;
  /** The declared query parameters only (others are not visible to handlers). */
  query: Record<string, string | undefined>;
  /** A JSON body checked against the route's schema, or the raw bytes of a binary body. */
  body: unknown;
  /** Whether the body is big enough that the handler should work in slices (`nextTurn`). */
  largeBody: boolean;
  /** The body is what `MountOptions.parseBigBody` made of it (not the schema's output). */
  preparsed: boolean;
}

export type RouteHandler = (input: RouteInput) => Promise<Response> | Response;

/** Per-route options of `mountRoute`. */
export interface MountOptions {
  /**
   * Parses a JSON body of at least OFF_THREAD_BODY_BYTES off the event loop
   * (server/tx-body-parser.ts) instead of checking it against the route's
   * schema here; the handler then gets its result with `preparsed: true`.
   */
  parseBigBody?: (body: Uint8Array) => Promise<unknown>;
}

/**
 * Mounts a handler for a route of the table in protocol/api.ts: path
 * parameters, query and body are validated with the same schemas that
 * /openapi.json is generated from, in that order, each failure a
 * `ValidationError` naming the part.
 */
export function mountRoute(
  app: Hono,
  spec: RouteSpec,
  handler: RouteHandler,
  options: MountOptions = {},
): void {
  app.on(spec.method.toUpperCase(), spec.path, async (c) => {
    const params = spec.params ? validate(spec.params, c.req.param(), 'path') : {};
    const all = singleQuery(c);
    const query = spec.query ? validate(spec.query, all, 'query') : {};
    let body: unknown;
    let largeBody = false;
    let preparsed = false;
    const raw =
      options.parseBigBody && spec.body ? new Uint8Array(await c.req.arrayBuffer()) : undefined;
    if (raw && options.parseBigBody && raw.byteLength >= OFF_THREAD_BODY_BYTES) {
      body = await options.parseBigBody(raw);
      largeBody = preparsed = true;
    } else if (spec.body && 'json' in spec.body) {
      const text = raw ? UTF8.decode(raw) : await c.req.text();
      const { json, large } = await parseJsonBody(text, spec.body.mayBeEmpty === true);
      if (large) await nextTurn();
      body = validate(spec.body.json, json === undefined ? {} : json, 'body');
      largeBody = large;
    } else if (spec.body) {
      body = new Uint8Array(await c.req.arrayBuffer());
      largeBody = (body as Uint8Array).byteLength >= SLICE_BODY_CHARS;
    }
    if (largeBody) await nextTurn();
    return handler({
      c,
      params: params as Record<string, string>,
      query: query as Record<string, string | undefined>,
      body,
      largeBody,
      preparsed,
    });
  });
}
