import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`), or NaN off Linux. */
export function procStatusBytes(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kb === undefined ? Number.NaN : Number(kb) * 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process has used, in ms, or NaN off Linux. */
export function procCpuMs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** Waits (at most `timeoutMs`) for a stdout line starting with `prefix`; returns the rest. */
export function waitForLine(
  child: ChildProcess,
  prefix: string,
  timeoutMs = 180_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no "${prefix}" in time`)), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk;
      const line = buffered.split('\n').find((l) => l.startsWith(prefix));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length).trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before "${prefix}"`));
    });
  });
}
