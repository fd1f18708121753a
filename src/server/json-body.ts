import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * A JSON answer that any document fits in: `JSON.stringify` recurses and
 * throws on values nested a few thousand deep, so those are serialized
 * with an explicit stack instead (same output).
 */
export function jsonBody(c: Context, value: unknown, status: ContentfulStatusCode = 200): Response {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    text = stringifyDeep(value);
  }
  return c.body(text, status, { 'content-type': 'application/json' });
}

/** JSON text of plain JSON data, without recursion (objects keep their key order). */
export function stringifyDeep(root: unknown): string {
  const out: string[] = [];
  // Each entry is a value to write, or a literal piece of text (a separator or a closer).
  const stack: ({ text: string } | { value: unknown })[] = [{ value: root }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const v = item.value;
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i] === undefined ? null : v[i] });
        if (i > 0) stack.push({ text: ',' });
      }
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      out.push('{');
      stack.push({ text: '}' });
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, x] = entries[i] as [string, unknown];
        stack.push({ value: x });
        stack.push({ text: `${JSON.stringify(k)}:` });
        if (i > 0) stack.push({ text: ',' });
      }
    } else {
      out.push(JSON.stringify(v) ?? 'null');
    }
  }
  return out.join('');
}
