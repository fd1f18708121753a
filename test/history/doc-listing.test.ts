import { describe, expect, it } from 'vitest';
import { Replica } from '../helpers/changes.js';
import { OTHER_SPACE } from '../helpers/engine.js';
import {
  allPages,
  commit,
  expectError,
  expectStatus,
  get,
  post,
  seedMain,
  useEngine,
  type Page,
} from './branch-fixture.js';

/** SPEC §3-§5 over HTTP, in-process, on the backend under test: the doc listing. */

useEngine();

describe('doc listing', () => {
  it('lists docs in order with their branches and last epoch; prefix and cursor paging', async () => {
    const ids = ['a/1', 'a/2', 'a/3', 'a_b', 'ab', 'b/1', 'é'];
    const lastEpoch = new Map<string, number>();
    const replicas = new Map<string, Replica>();
    for (const [i, id] of ids.entries()) {
      const r = new Replica(i + 1);
      replicas.set(id, r);
      const w = await commit(id, 'main', [r.change((d) => void (d.id = id))], []);
      lastEpoch.set(id, w.epoch);
    }
    // A later commit of a/1, and a branch of a/2 (no own commit).
    const r = replicas.get('a/1') as Replica;
    const heads = r.heads;
    lastEpoch.set(
      'a/1',
      (await commit('a/1', 'main', [r.change((d) => void (d.x = 1))], heads)).epoch,
    );
    expectStatus(await post(`/docs/${encodeURIComponent('a/2')}/branches`, { name: 'feat' }), 201);
    const expected = ids.map((id) => ({
      docId: id,
      branches: id === 'a/2' ? ['feat', 'main'] : ['main'],
      lastEpoch: lastEpoch.get(id),
    }));
    const all = expectStatus(await get<Page<unknown>>('/docs'), 200);
    expect(all).toEqual({ items: expected });
    for (const limit of [1, 2, 3, 7, 8]) {
      const { items, pages } = await allPages('/docs', limit);
      expect(items, `limit ${limit}`).toEqual(expected);
      expect(pages).toBeLessThanOrEqual(Math.ceil(ids.length / limit) + 1);
    }
    const byPrefix = async (prefix: string) =>
      (
        await allPages<{ docId: string }>(`/docs?prefix=${encodeURIComponent(prefix)}`, 2)
      ).items.map((i) => i.docId);
    expect(await byPrefix('a/')).toEqual(['a/1', 'a/2', 'a/3']);
    // No wildcard semantics: "_" and "%" are plain characters.
    expect(await byPrefix('a_')).toEqual(['a_b']);
    expect(await byPrefix('a%')).toEqual([]);
    expect(await byPrefix('a')).toEqual(['a/1', 'a/2', 'a/3', 'a_b', 'ab']);
    expect(await byPrefix('é')).toEqual(['é']);
    expect(await byPrefix('zzz')).toEqual([]);
    // The first page of a prefix with limit 1 continues exactly after its item.
    const first = expectStatus(await get<Page<{ docId: string }>>('/docs?prefix=a/&limit=1'), 200);
    expect(first.items.map((i) => i.docId)).toEqual(['a/1']);
    expect(first.nextCursor).toBeDefined();
  });

  it('an unknown space has no docs; bad cursors and limits are ValidationError', async () => {
    expect(expectStatus(await get('/docs', { space: OTHER_SPACE }), 200)).toEqual({ items: [] });
    await seedMain();
    expectError(await get('/docs?cursor=!!'), 400, 'ValidationError');
    expectError(await get('/docs?cursor=e30'), 400, 'ValidationError');
    expectError(await get('/docs?limit=0'), 400, 'ValidationError');
    expectError(await get('/docs?limit=100001'), 400, 'ValidationError');
    expectError(await get('/docs?prefix=a&prefix=b'), 400, 'ValidationError');
  });
});
