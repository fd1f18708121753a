#!/usr/bin/env node
/**
 * `npm run layers`: how the layers of src/ import each other — a table of
 * import statements from each layer into each other one, and which layers
 * reach the Automerge runtime (directly or through other files). Used to show
 * the seams hold: storage/ → Automerge 0, storage/ → protocol/ 0,
 * server/ → storage/ 0. `--json` for scripts.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'src');
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
})(root);

const layerOf = (file) => path.relative(root, file).split(path.sep)[0].replace(/\.ts$/, '');
const IMPORT =
  /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

/** file → { files it imports (runtime and type-only alike), packages it imports } */
const graph = new Map();
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const deps = { files: [], packages: [], typeOnly: new Set() };
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2];
    const typeOnly = /^\s*(import|export)\s+type\s/.test(m[0]);
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      deps.files.push(target);
      if (typeOnly) deps.typeOnly.add(target);
    } else if (!typeOnly) deps.packages.push(spec);
  }
  graph.set(file, deps);
}

const counts = {};
for (const [file, deps] of graph) {
  const from = layerOf(file);
  for (const target of deps.files) {
    const to = layerOf(target);
    if (to === from) continue;
    counts[from] ??= {};
    counts[from][to] = (counts[from][to] ?? 0) + 1;
  }
}

/** Files whose runtime imports (type-only ones are erased) reach a package. */
function reaching(pkg) {
  const memo = new Map();
  const visit = (file) => {
    if (memo.has(file)) return memo.get(file);
    memo.set(file, false);
    const deps = graph.get(file);
    const hit =
      !!deps &&
      (deps.packages.includes(pkg) || deps.files.some((f) => !deps.typeOnly.has(f) && visit(f)));
    memo.set(file, hit);
    return hit;
  };
  const out = {};
  for (const file of files) if (visit(file)) out[layerOf(file)] = (out[layerOf(file)] ?? 0) + 1;
  return out;
}

const automerge = reaching('@automerge/automerge');
const layers = [...new Set(files.map(layerOf))]
  .filter((l) => fs.existsSync(path.join(root, l)) && fs.statSync(path.join(root, l)).isDirectory())
  .sort();
const checks = {
  'storage/ → Automerge runtime (files reaching it)': automerge.storage ?? 0,
  'storage/ → protocol/ (imports)': counts.storage?.protocol ?? 0,
  'server/ → storage/ (imports)': counts.server?.storage ?? 0,
};

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ imports: counts, reachAutomerge: automerge, checks }, null, 2));
} else {
  console.log('imports between layers (rows import columns):');
  const w = Math.max(...layers.map((l) => l.length)) + 2;
  console.log(' '.repeat(w) + layers.map((l) => l.padStart(w)).join(''));
  for (const from of layers) {
    console.log(
      from.padEnd(w) +
        layers
          .map((to) => String(counts[from]?.[to] ?? (from === to ? '·' : '')).padStart(w))
          .join(''),
    );
  }
  console.log('\nfiles whose runtime imports reach @automerge/automerge, by layer:');
  for (const l of layers) if (automerge[l]) console.log(`  ${l}: ${automerge[l]}`);
  console.log('\nthe seams:');
  for (const [k, v] of Object.entries(checks)) console.log(`  ${k}: ${v}`);
}
