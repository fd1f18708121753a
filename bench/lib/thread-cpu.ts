import fs from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, ms) consumed so far by the main thread alone
 * — not worker threads, not time blocked in fsync or waiting for a core — or
 * undefined where /proc is not available. From schedstat (ns) where the
 * kernel has it, else from stat (10 ms resolution).
 */
export function mainThreadCpuMs(): number | undefined {
  try {
    const sched = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8');
    const ns = Number(sched.split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1e6;
  } catch {
    // fall through to stat
  }
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Bytes the main thread has passed to write() so far (`wchar` of
 * /proc/self/task/<tid>/io: WAL frames and checkpoints for SQLite, whether or
 * not they reached the disk yet), or undefined where /proc is not available.
 */
export function mainThreadWrittenBytes(): number | undefined {
  try {
    const io = fs.readFileSync(`/proc/self/task/${process.pid}/io`, 'utf8');
    const m = /^wchar:\s*(\d+)/m.exec(io);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
