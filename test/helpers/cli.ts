import { spawnSync } from 'node:child_process';
import { CLI_ENTRY, REPO_ROOT } from './server-process.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion (bounded), as a user would; no CAIRN_* of the test's own. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): CliRun {
  const out = spawnSync(process.execPath, [CLI_ENTRY, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
    env: {
      ...process.env,
      CAIRN_DATABASE_URL: '',
      CAIRN_SERVER_KEY: '',
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  return { code: out.status, stdout: out.stdout.trim(), stderr: out.stderr.trim() };
}
