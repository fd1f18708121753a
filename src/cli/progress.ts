import { Presets, SingleBar } from 'cli-progress';

/** A progress display for long CLI work: `update(label, done, total)`, then `stop()`. */
export interface Progress {
  update(label: string, done: number, total: number): void;
  stop(): void;
}

/**
 * A progress bar on a terminal (on stderr, so stdout stays the command's
 * answer); none when stderr is piped or with `--json`, where it would only
 * be noise in a script's logs.
 */
export function progressBar(verb: string, json: boolean): Progress | undefined {
  if (json || !process.stderr.isTTY) return undefined;
  const bar = new SingleBar(
    {
      format: `${verb} {label} [{bar}] {value}/{total}`,
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  // A command that fails mid-way exits through main's error line: put the cursor back first.
  process.once('exit', () => {
    if (started) bar.stop();
  });
  return {
    update(label, done, total) {
      if (!started) bar.start(total, done, { label });
      started = true;
      bar.setTotal(total);
      bar.update(done, { label });
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}
