import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { docToJson } from '../../src/crdt/automerge/to-json.js';
import { parsePaths, projectPaths } from '../../src/crdt/json-value.js';

describe('document JSON', () => {
  it('turns text, counters, dates and bytes into JSON', () => {
    let doc = A.from<Record<string, unknown>>({ title: 'x' });
    doc = A.change(doc, (d) => {
      d.count = new A.Counter(3);
      d.when = new Date(0);
      d.bytes = new Uint8Array([1, 2, 3]);
      d.list = [1, { a: null }];
    });
    expect(JSON.parse(JSON.stringify(docToJson(doc)))).toEqual({
      title: 'x',
      count: 3,
      when: '1970-01-01T00:00:00.000Z',
      bytes: 'AQID',
      list: [1, { a: null }],
    });
  });

  it('projects paths nested as in the doc and omits missing ones', () => {
    const value = { a: { b: 1, c: 2 }, 'x/y': 3, list: [10, 20, { z: 1 }] };
    const out = projectPaths(value, parsePaths('a/b,x~1y,list/2/z,missing/path,list/9'));
    expect(JSON.parse(JSON.stringify(out))).toEqual({
      a: { b: 1 },
      'x/y': 3,
      list: [null, null, { z: 1 }],
    });
  });
});
