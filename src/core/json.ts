/** Any JSON value: what a document reads as, and what the wire carries. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/**
 * JSON text of plain JSON data, of any depth: `JSON.stringify` recurses and
 * throws on values nested a few thousand deep (a crafted change can nest a
 * document 100,000 maps deep), so those are written with an explicit stack
 * (same output).
 */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return stringifyDeep(value);
  }
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
