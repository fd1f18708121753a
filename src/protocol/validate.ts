import type { z } from 'zod';
import { CairnError } from '../core/errors.js';

/**
 * Checks a value against a wire schema: the parsed value, or a
 * `ValidationError` naming where the first problem is (`writes[0].changes: …`;
 * `part` names the whole when the problem is at the top).
 */
export function validate<T extends z.ZodType>(
  schema: T,
  value: unknown,
  part: string,
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
  const name = (where?.join('') ?? '').replace(/^\./, '') || part;
  throw new CairnError('ValidationError', `${name}: ${issue?.message ?? 'invalid'}`);
}
