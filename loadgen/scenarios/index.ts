import type { Scenario } from '../scenario.js';
import { docEditsScenario } from './doc-edits/index.js';
import { hotDocScenario } from './hot-doc/index.js';
import { kvScenario } from './kv/index.js';
import { pitReadsScenario } from './pit-reads/index.js';
import { typistsScenario } from './typists/index.js';
import { yjsScenario } from './yjs/index.js';

/**
 * Every scenario `--scenario` accepts. A new one (doc edits, typists, hot
 * docs, point-in-time reads, Yjs…) is a module exporting a `Scenario`,
 * added here: it brings its own flags, setup, operations and targets.
 */
export const SCENARIOS: readonly Scenario[] = [
  kvScenario,
  typistsScenario,
  yjsScenario,
  docEditsScenario,
  hotDocScenario,
  pitReadsScenario,
];
