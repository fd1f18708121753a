import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A small tmpfs of the test's own (it needs root; the caller skips visibly
 * without it), for tests that fill a disk for real.
 */
export function mountTmpfs(
  prefix: string,
  sizeMb: number,
): { mounted: boolean; dir: string; unmount(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], {
      stdio: 'ignore',
    });
    mounted = true;
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    mounted,
    dir,
    unmount: () => {
      if (!mounted) return;
      execFileSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
