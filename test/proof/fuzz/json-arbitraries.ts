import fc from 'fast-check';

/**
 * Arbitraries of hostile JSON request bodies: garbled text and bytes
 * (invalid UTF-8, truncation, deep nesting, huge strings, duplicate and
 * prototype keys, extreme numbers) and single mutations of a valid body.
 */

/** Values that break code expecting a small, well-typed value. */
export const edgeValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    0,
    -1,
    -0,
    0.5,
    1e308,
    -1e308,
    2 ** 53 + 2,
    Number.MAX_SAFE_INTEGER,
    '',
    '\u0000',
    '\ud800',
    '\udfff\ud800',
    '\u202e',
    '%00',
    '../../etc',
    'did:key:z6MkOther',
    '0'.repeat(64),
    'main',
    [],
    {},
    [[[]]],
    { __proto__: null, constructor: 1 },
  ),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 100, max: 20_000 }).map((n) => new RawJson('['.repeat(n) + ']'.repeat(n))),
  fc.integer({ min: 10_000, max: 2_000_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 5_000 }).map((n) => Array.from({ length: n }, (_, i) => i)),
);

/**
 * JSON text spliced in as is where a value goes: a deeply nested value as an
 * object would overflow this process's own stack in JSON.stringify.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify, with every RawJson's text in its place. */
export function stringifyWithRaw(value: unknown): string {
  const raws: string[] = [];
  const text =
    JSON.stringify(value, (_k, v: unknown) => {
      if (!(v instanceof RawJson)) return v;
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}`;
    }) ?? '';
  return text.replace(/"\\u0000raw(\d+)"/g, (_m, i: string) => raws[Number(i)] ?? 'null');
}

const enc = (s: string) => Buffer.from(s, 'utf8');
const INVALID_UTF8 = [
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x80],
  [0xe2, 0x82],
  [0xfe, 0xfe, 0xff, 0xff],
].map((b) => Buffer.from(b));

/** Bodies that are not valid JSON, or valid JSON that is hostile as text. */
export const garbledJson: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .constantFrom(
      '',
      ' ',
      'null',
      'true',
      '"a string"',
      '1e999',
      '-0',
      '123456789012345678901234567890',
      '{',
      '{"writes":',
      '[1,2,',
      '{"a":1,"a":2}',
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '\ufeff{}',
      '{}garbage',
      '{"value":NaN}',
      "{'single':'quotes'}",
      '{"value":"\\ud800"}',
      '{"writes":[{"docId":"d","changes":["\\u0000"]}]}',
    )
    .map(enc),
  fc
    .tuple(fc.constantFrom(...INVALID_UTF8), fc.constantFrom('{"value":"', '{"writes":[{"docId":"'))
    .map(([bad, prefix]) => Buffer.concat([enc(prefix), bad, enc('"}')])),
  fc
    .integer({ min: 10, max: 200_000 })
    .chain((n) =>
      fc
        .constantFrom('['.repeat(n) + ']'.repeat(n), '{"a":'.repeat(n) + '1' + '}'.repeat(n))
        .map(enc),
    ),
  fc.jsonValue({ maxDepth: 4 }).map((v) => enc(JSON.stringify(v))),
  fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
);

/** One mutation of a JSON value: where (a walk of indices) and what. */
export interface JsonMutation {
  walk: number[];
  op: 'replace' | 'delete' | 'addKey' | 'wrap' | 'repeat' | 'truncate';
  value: unknown;
  key: string;
  count: number;
}

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  // At least one step: a mutation inside the body (garbledJson replaces whole bodies).
  walk: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  op: fc.constantFrom('replace', 'delete', 'addKey', 'wrap', 'repeat', 'truncate'),
  value: edgeValue,
  key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'writes', 'x'), fc.string()),
  count: fc.integer({ min: 2, max: 300 }),
});

/** The valid body `valid` (JSON text) with `m` applied, as bytes. */
export function mutateJson(valid: Buffer, m: JsonMutation): Buffer {
  const text = valid.toString('utf8');
  if (m.op === 'truncate') return enc(text.slice(0, m.count % (text.length + 1)));
  const root: unknown = JSON.parse(text);
  const holder = { root };
  // Walk down from the holder: each step picks a child by index (modulo).
  let parent: Record<string, unknown> | unknown[] = holder;
  let key: string | number = 'root';
  for (const step of m.walk) {
    const node: unknown = (parent as Record<string | number, unknown>)[key];
    if (node === null || typeof node !== 'object') break;
    const keys: (string | number)[] = Array.isArray(node)
      ? node.map((_, i) => i)
      : Object.keys(node);
    if (keys.length === 0) break;
    parent = node as Record<string, unknown>;
    key = keys[step % keys.length]!;
  }
  const slot = parent as Record<string | number, unknown>;
  const current = slot[key];
  if (m.op === 'replace') slot[key] = m.value;
  else if (m.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete slot[key];
  } else if (m.op === 'wrap') slot[key] = [current];
  else if (m.op === 'repeat') slot[key] = Array.from({ length: m.count }, () => current);
  else if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
    // defineProperty: a `__proto__` key becomes an own key, as JSON.parse makes it.
    Object.defineProperty(current, m.key, { value: m.value, enumerable: true });
  } else slot[key] = { [m.key]: m.value, v: current };
  return enc(stringifyWithRaw(holder.root));
}
