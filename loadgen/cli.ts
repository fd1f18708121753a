import { Command, CommanderError, Option } from 'commander';
import { BACKENDS, type BackendKind } from './lib/backend.js';
import { intIn, UsageError } from './lib/flags.js';
import type { Scenario } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';

export interface RunConfig {
  scenario: Scenario;
  backend: BackendKind;
  seconds: number;
  warmup: number;
  out: string;
  seed: number;
  /** Every flag value (the scenario reads its own). */
  flags: Record<string, unknown>;
}

/** What the command line asks: a run, or an exit code (help shown, or a usage error). */
export type Parsed = { run: RunConfig } | { exit: number };

/** Wraps `text` at `width` columns, indenting the lines after the first. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}

function program(): Command {
  const p = new Command('npm run loadgen --')
    .description(
      'Open-loop load generator against a cairn server child process on 127.0.0.1 ' +
        '(the built CLI: npm run build first). Operations start on a fixed schedule and latency ' +
        'runs from each intended start, so a stalled server shows as latency, never as fewer ' +
        'requests. Prints a summary table; writes a JSON report and an Influx line-protocol file.',
    )
    .addOption(
      new Option('--scenario <name>', 'the scenario to run')
        .choices(SCENARIOS.map((s) => s.name))
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--backend <kind>',
        'cairn storage: SQLite data dir, or a durable throwaway PostgreSQL',
      )
        .choices(BACKENDS)
        .default('sqlite'),
    )
    .addOption(
      new Option('--seconds <n>', 'measured window, seconds').argParser(intIn(1, 600)).default(30),
    )
    .addOption(
      new Option('--warmup <n>', 'seconds at the same rate before the window (not measured)')
        .argParser(intIn(0, 60))
        .default(3),
    )
    .addOption(
      new Option('--out <dir>', 'directory of the JSON and Influx reports').default(
        './loadgen-results',
      ),
    )
    .addOption(
      new Option('--seed <n>', 'PRNG seed of the plan').argParser(intIn(0, 2 ** 31)).default(1),
    );
  for (const s of SCENARIOS) for (const o of s.options()) p.addOption(o);
  // The names column fits the longest name (doc-edits, pit-reads…).
  const col = Math.max(...SCENARIOS.map((s) => s.name.length)) + 2;
  const list = SCENARIOS.map(
    (s) => `  ${s.name.padEnd(col)}${wrap(s.summary, 78 - col, ' '.repeat(col + 2))}`,
  ).join('\n');
  p.addHelpText(
    'after',
    `
Scenarios:
${list}

Flags marked [<scenario>] belong to that scenario only.

Examples:
  $ npm run build && npm run loadgen -- --scenario kv                 # 50 tenants, 500 ops/s, 30 s, SQLite
  $ npm run loadgen -- --scenario kv --backend postgres --seconds 20
  $ npm run loadgen -- --scenario kv --tenants 10 --rate-per-install 600 --out /tmp/lg
  $ npm run loadgen -- --scenario doc-edits --spaces 8 --writers 4 --edit-rate 200
  $ npm run loadgen -- --scenario hot-doc --hot-writers 16 --burst 8 --commit-rate 80
  $ npm run loadgen -- --scenario pit-reads --pit-epochs 5000 --read-rate 10 --backend postgres
  $ npm run loadgen -- --scenario typists --typists 4,16,32 --warmup 10          # Automerge + Yjs vs Hocuspocus, y-websocket
  $ npm run loadgen -- --scenario typists --typists 16 --doc-kinds automerge --backend postgres
  $ npm run loadgen -- --scenario yjs --yjs-docs 100 --providers-per-doc 4 --yjs-peers

Exit code: 0 when every answer was as planned, 1 on any unexpected error (or a run cut
short), 2 on a bad flag. Targets are printed (yes/NO) but do not change the exit code.`,
  );
  p.exitOverride();
  p.configureOutput({ outputError: () => {} });
  p.showSuggestionAfterError(true);
  p.helpOption('-h, --help', 'this help');
  return p;
}

/** Parses `argv` (the user's arguments only); a usage error is one line on stderr. */
export function parseArgs(argv: readonly string[]): Parsed {
  const p = program();
  try {
    p.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { exit: 0 };
      console.error(`loadgen: ${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')}`);
      return { exit: 2 };
    }
    throw err;
  }
  const flags = p.opts<Record<string, unknown>>();
  const scenario = SCENARIOS.find((s) => s.name === flags.scenario) as Scenario;
  for (const other of SCENARIOS) {
    if (other === scenario) continue;
    for (const o of other.options()) {
      if (p.getOptionValueSource(o.attributeName()) === 'cli') {
        console.error(
          `loadgen: ${o.long} is a flag of scenario ${other.name}, not ${scenario.name}`,
        );
        return { exit: 2 };
      }
    }
  }
  try {
    scenario.validate?.(flags);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`loadgen: ${err.message}`);
    return { exit: 2 };
  }
  return {
    run: {
      scenario,
      backend: flags.backend as BackendKind,
      seconds: flags.seconds as number,
      warmup: flags.warmup as number,
      out: flags.out as string,
      seed: flags.seed as number,
      flags,
    },
  };
}

export { UsageError };
