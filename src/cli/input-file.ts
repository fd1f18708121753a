import fs from 'node:fs';
import { UsageError } from './usage-error.js';

/** A file a command was pointed at; one that cannot be read is a usage error naming why. */
export function readInputFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}
