import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The import-boundary rule is part of `npm run lint` (and so of CI): a file
 * that imports against the layer arrows fails it. Linted here as text under
 * a path inside src/, with the project's own config (the type-aware rules,
 * which need files on disk, are switched off for these probes).
 */
const eslint = new ESLint({
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-misused-promises': 'off',
    },
  },
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the layer arrows, enforced by lint', () => {
  it.each([
    [
      'server reaching storage',
      'src/server/routes/probe.ts',
      "import type { BranchRecord } from '../../storage/types.js';\nexport type X = BranchRecord;\n",
    ],
    [
      'storage reaching protocol',
      'src/storage/probe.ts',
      "import type { TxReceipt } from '../protocol/receipt.js';\nexport type X = TxReceipt;\n",
    ],
    [
      'storage reaching a document kind',
      'src/storage/sqlite/probe.ts',
      "import { docKind } from '../../crdt/kinds.js';\nexport const k = docKind;\n",
    ],
    [
      'core reaching anything',
      'src/core/probe.ts',
      "import { docKind } from '../crdt/kinds.js';\nexport const k = docKind;\n",
    ],
    [
      'read reaching the server',
      'src/read/probe.ts',
      "import { mountRoute } from '../server/mount-route.js';\nexport const m = mountRoute;\n",
    ],
    [
      'pipeline importing Automerge',
      'src/pipeline/probe.ts',
      "import * as A from '@automerge/automerge';\nexport const a = A.init;\n",
    ],
    ['protocol using Buffer', 'src/protocol/probe.ts', "export const b = Buffer.from('x');\n"],
    [
      'core importing a Node module',
      'src/core/probe.ts',
      "import { createHash } from 'node:crypto';\nexport const h = createHash;\n",
    ],
  ])('fails a wrong-way import: %s', async (_what, filePath, code) => {
    const found = await problems(filePath, code);
    expect(found.length, found.join('\n')).toBeGreaterThan(0);
    expect(found.join('\n')).toMatch(/no-restricted-(imports|globals)/);
  });

  it.each([
    [
      'server reaching read',
      'src/server/routes/probe.ts',
      "import type { ReadApi } from '../../read/read-api.js';\nexport type R = ReadApi;\n",
    ],
    [
      'read reaching storage',
      'src/read/probe.ts',
      "import { lineageOf } from '../storage/lineage.js';\nexport const l = lineageOf;\n",
    ],
    [
      'the Automerge kind importing Automerge',
      'src/crdt/automerge/probe.ts',
      "import * as A from '@automerge/automerge';\nexport const a = A.init;\n",
    ],
  ])('passes an import along the arrows: %s', async (_what, filePath, code) => {
    expect(await problems(filePath, code)).toEqual([]);
  });
});
