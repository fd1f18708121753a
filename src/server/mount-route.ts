import type { Context, Hono } from 'hono';
import type { RouteSpec } from '../protocol/api.js';
import { validate } from '../protocol/validate.js';
import { readJson, singleQuery } from './request-params.js';

/** What a handler gets: the request parts its route declares, validated. */
export interface RouteInput {
  c: Context;
  /** Path parameters, checked against the route's `params` schema. */
  params: Record<string, string>;
  /** The declared query parameters only (others are not visible to handlers). */
  query: Record<string, string | undefined>;
  /** A JSON body checked against the route's schema, or the raw bytes of a binary body. */
  body: unknown;
}

export type RouteHandler = (input: RouteInput) => Promise<Response> | Response;

/**
 * Mounts a handler for a route of the table in protocol/api.ts: path
 * parameters, query and body are validated with the same schemas that
 * /openapi.json is generated from, in that order, each failure a
 * `ValidationError` naming the part.
 */
export function mountRoute(app: Hono, spec: RouteSpec, handler: RouteHandler): void {
  app.on(spec.method.toUpperCase(), spec.path, async (c) => {
    const params = spec.params ? validate(spec.params, c.req.param(), 'path') : {};
    const all = singleQuery(c);
    const query = spec.query ? validate(spec.query, all, 'query') : {};
    let body: unknown;
    if (spec.body && 'json' in spec.body) {
      const json = await readJson(c, spec.body.mayBeEmpty === true);
      body = validate(spec.body.json, json === undefined ? {} : json, 'body');
    } else if (spec.body) {
      body = new Uint8Array(await c.req.arrayBuffer());
    }
    return handler({
      c,
      params: params as Record<string, string>,
      query: query as Record<string, string | undefined>,
      body,
    });
  });
}
