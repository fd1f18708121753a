import { threadId } from 'node:worker_threads';

/** A job module for worker-pool tests: each job says what the worker saw and who it is. */
export type ProbeJob =
  | { op: 'whoami' }
  | { op: 'bytes'; bytes: Uint8Array }
  | { op: 'retire' }
  | { op: 'fail'; code?: string }
  | { op: 'exit' };

export function handle(job: ProbeJob): Promise<{ result: unknown; retire?: boolean }> {
  switch (job.op) {
    case 'whoami':
      return Promise.resolve({ result: threadId });
    case 'bytes':
      return Promise.resolve({
        result: { byteLength: job.bytes.byteLength, bufferBytes: job.bytes.buffer.byteLength },
      });
    case 'retire':
      return Promise.resolve({ result: threadId, retire: true });
    case 'fail':
      return Promise.reject(Object.assign(new Error('probe failed'), { code: job.code }));
    case 'exit':
      process.exit(3);
  }
}
