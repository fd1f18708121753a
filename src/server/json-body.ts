import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { jsonText } from '../core/json.js';

/**
 * A JSON answer that any document fits in: `JSON.stringify` recurses and
 * throws on values nested a few thousand deep, so those are serialized
 * with an explicit stack instead (same output).
 */
export function jsonBody(c: Context, value: unknown, status: ContentfulStatusCode = 200): Response {
  return c.body(jsonText(value), status, { 'content-type': 'application/json' });
}
