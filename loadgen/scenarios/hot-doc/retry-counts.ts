/** Retries per commit, over the measured window: count of commits by retries taken. */
export class RetryCounts {
  private readonly counts = new Map<number, number>();
  gaveUp = 0;

  add(retries: number): void {
    this.counts.set(retries, (this.counts.get(retries) ?? 0) + 1);
  }

  /** Mean, p50, p99 and max retries per commit (nearest rank). */
  describe(): string {
    const sorted = [...this.counts].sort((a, b) => a[0] - b[0]);
    const n = sorted.reduce((s, [, c]) => s + c, 0);
    if (n === 0) return 'no commits';
    const at = (p: number) => {
      let seen = 0;
      for (const [r, c] of sorted) if ((seen += c) >= Math.ceil((p / 100) * n)) return r;
      return (sorted[sorted.length - 1] as [number, number])[0];
    };
    const mean = sorted.reduce((s, [r, c]) => s + r * c, 0) / n;
    return `mean ${mean.toFixed(2)}, p50 ${at(50)}, p99 ${at(99)}, max ${at(100)} (n=${n.toLocaleString('en-US')})`;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => a[0] - b[0]));
  }
}
