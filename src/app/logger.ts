import { pino } from 'pino';
import type { Logger } from '../core/logger.js';

/** Structured JSON lines on stdout; level from `LOG_LEVEL` (default info). */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger & { level: string } {
  return pino({ level, base: { service: 'cairn' } });
}
