/** A one-line status on a terminal (stderr, `\r`-updated); nothing at all when not a TTY. */
export interface Progress {
  update(text: string): void;
  /** Clears the line. */
  done(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  let shown = false;
  return {
    update(text) {
      const width = Math.max(20, (stream.columns || 100) - 1);
      stream.write(`\r${text.slice(0, width)}\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
