/**
 * The layer arrows of docs/ARCHITECTURE.md as lint rules: a file may import
 * only the layers listed for its own, so a wrong-way import fails CI.
 *
 *   cli → app → server → (history, read, live, kv, yjs) → pipeline → storage → crdt/protocol/auth → core
 *
 * Also: only src/crdt/automerge/ (and the client, which keeps an app's own
 * docs) imports the Automerge library (every other layer goes through the
 * DocKind seam), storage never reaches a document
 * kind's implementation, and core/, protocol/ and client/ use no Node-only
 * API (they must run in a browser).
 */

/** Each layer and the layers it may import (besides itself). */
export const LAYERS = {
  core: [],
  protocol: ['core'],
  crdt: ['core'],
  auth: ['core'],
  storage: ['crdt', 'core'],
  pipeline: ['storage', 'crdt', 'protocol', 'auth', 'core'],
  read: ['storage', 'crdt', 'protocol', 'core'],
  history: ['read', 'pipeline', 'storage', 'crdt', 'protocol', 'auth', 'core'],
  live: ['read', 'pipeline', 'crdt', 'protocol', 'auth', 'core'],
  kv: ['pipeline', 'storage', 'protocol', 'auth', 'core'],
  yjs: ['read', 'pipeline', 'storage', 'crdt', 'protocol', 'auth', 'core'],
  server: ['history', 'read', 'live', 'kv', 'yjs', 'pipeline', 'crdt', 'protocol', 'auth', 'core'],
  app: [
    'server',
    'history',
    'read',
    'live',
    'kv',
    'yjs',
    'pipeline',
    'storage',
    'crdt',
    'protocol',
    'auth',
    'core',
  ],
  cli: ['app', 'protocol', 'core'],
  client: ['protocol', 'core'],
};

const NODE_BUILTINS =
  '^(node:.*|assert|buffer|child_process|crypto|dns|events|fs|fs/promises|http|https|module|net|os|path|process|stream|timers|tls|url|util|worker_threads|zlib)$';
const BROWSER_SAFE = new Set(['core', 'protocol', 'client']);
const AUTOMERGE = {
  name: '@automerge/automerge',
  message:
    'only src/crdt/automerge/ imports Automerge: go through the DocKind seam (crdt/kinds.ts)',
};

function patternsFor(layer) {
  const allowed = new Set([layer, ...LAYERS[layer]]);
  const forbidden = Object.keys(LAYERS).filter((l) => !allowed.has(l));
  const patterns = forbidden.map((l) => ({
    regex: `^(\\.\\./)+${l}/`,
    message: `${layer}/ may import only ${[...LAYERS[layer]].join(', ') || 'nothing'} (the layer arrows of docs/ARCHITECTURE.md)`,
  }));
  if (layer === 'storage') {
    patterns.push({
      regex: '^(\\.\\./)+crdt/(automerge/|kinds)',
      message: 'storage/ stores kind-neutral records and never reaches a document kind',
    });
  }
  if (BROWSER_SAFE.has(layer)) {
    patterns.push({
      regex: NODE_BUILTINS,
      message: `${layer}/ must run in a browser: no Node-only modules`,
    });
  }
  return patterns;
}

const BROWSER_GLOBALS = [
  'Buffer',
  'process',
  'require',
  '__dirname',
  '__filename',
  'global',
  'setImmediate',
].map((name) => ({ name, message: 'must run in a browser: no Node-only globals' }));

export const layerRules = Object.keys(LAYERS).flatMap((layer) => {
  const files = [`src/${layer}/**/*.ts`];
  const automergeAllowed = layer === 'crdt';
  const configs = [
    {
      files,
      ...(automergeAllowed ? { ignores: ['src/crdt/automerge/**'] } : {}),
      rules: {
        'no-restricted-imports': [
          'error',
          // The client keeps the app's own Automerge docs: it may use the library.
          { paths: layer === 'client' ? [] : [AUTOMERGE], patterns: patternsFor(layer) },
        ],
        ...(BROWSER_SAFE.has(layer)
          ? { 'no-restricted-globals': ['error', ...BROWSER_GLOBALS] }
          : {}),
      },
    },
  ];
  if (automergeAllowed) {
    configs.push({
      files: ['src/crdt/automerge/**/*.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns: patternsFor(layer) }] },
    });
  }
  return configs;
});
