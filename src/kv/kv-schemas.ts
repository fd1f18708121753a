import { Ajv, type ValidateFunction } from 'ajv';
import { CairnError } from '../core/errors.js';
import type { JsonValue } from '../core/json.js';
import { LruMap } from '../core/lru-map.js';
import type { KvSchemaRow } from '../storage/kv-types.js';

/**
 * JSON Schema validation of KV values (SPEC §12) with Ajv: each schema
 * version is compiled once and the compiled function kept in a bounded LRU
 * (compiling is the expensive part; a schema's text never changes for its
 * identity, which includes its text's hash… so a replaced draft compiles anew).
 */
export class KvSchemaValidator {
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly compiled: LruMap<string, ValidateFunction>;

  constructor(kept: number) {
    this.compiled = new LruMap(kept);
  }

  /** Checks that a schema compiles; a bad one is `ValidationError` with Ajv's message. */
  check(schema: JsonValue): void {
    try {
      this.ajv.compile(schema as object);
    } catch (err) {
      throw new CairnError(
        'ValidationError',
        `not a usable JSON Schema: ${(err as Error).message}`,
      );
    }
  }

  /**
   * Validates `value` against the schema a put names (`schemaVersion`) or
   * the namespace's active one; none: any JSON. A failure is
   * `ValidationError` with the validator's errors in `details.errors`.
   */
  validate(
    value: JsonValue,
    schemas: readonly KvSchemaRow[],
    version: number | undefined,
    key: string,
  ): void {
    const row =
      version === undefined
        ? schemas.find((s) => s.status === 'active')
        : schemas.find((s) => s.version === version);
    if (!row) {
      if (version === undefined) return;
      throw new CairnError('ValidationError', `no schema version ${version} in this namespace`, {
        key,
      });
    }
    const fn = this.compile(row.schema);
    if (fn(value)) return;
    const errors = (fn.errors ?? []).slice(0, 20).map((e) => ({
      path: e.instancePath || '/',
      message: e.message ?? 'invalid',
    }));
    throw new CairnError(
      'ValidationError',
      `the value does not match schema version ${row.version}`,
      {
        key,
        errors,
      },
    );
  }

  private compile(text: string): ValidateFunction {
    let fn = this.compiled.get(text);
    if (!fn) {
      fn = this.ajv.compile(JSON.parse(text) as object);
      this.compiled.set(text, fn);
      // Ajv also caches by schema object; drop it so the LRU is the only bound.
      this.ajv.removeSchema(fn.schema as object);
    }
    return fn;
  }
}
