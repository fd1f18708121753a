import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createCairn } from '../../src/app/create-cairn.js';
import { rootRef } from '../../src/crdt/heads.js';
import { DocCache } from '../../src/read/doc-cache.js';
import { DocReader } from '../../src/read/doc-reader.js';
import { parseTxRequest } from '../../src/protocol/tx-request.js';
import {
  migrateDown,
  migrateUp,
  migrationStatus,
  type Migration,
} from '../../src/storage/migrations.js';
import { PgBackend } from '../../src/storage/postgres/pg-backend.js';
import {
  DISTRIBUTED_TABLES,
  LOCAL_TABLES,
  PG_MIGRATIONS,
  REFERENCE_TABLES,
} from '../../src/storage/postgres/pg-migrations.js';
import { MIGRATION_LOCK_KEY, pgMigrationExecutor } from '../../src/storage/postgres/pg-migrator.js';
import { createTestDatabase, type TestDatabase } from '../helpers/backend.js';
import { actorId, hashOf, Replica, write } from '../helpers/changes.js';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * "The Citus schema lint" (STACK.md, SPEC §1): the PostgreSQL schema must stay
 * shardable by space. Plain PostgreSQL cannot run Citus here, so these tests
 * read the catalog of a freshly migrated database and the SQL text of the
 * backend, and fail on anything Citus would refuse (or would turn into a
 * cross-shard operation):
 *
 * - every table except the reference/local ones has `space_id`, and every
 *   primary key and unique index starts with it;
 * - foreign keys only between distributed tables, through `space_id`;
 * - no triggers, no sequences / serial / identity columns;
 * - every statement pins one space (`space_id = $1`, or `$1` inserted as the
 *   `space_id`), joins are colocated (`x.space_id = y.space_id`), and no
 *   UPDATE/DELETE calls a volatile function.
 *
 * Each check collects readable violations (naming the table or statement) and
 * asserts the list is empty, so one run shows every problem at once.
 */

const EXEMPT_TABLES = new Set<string>([...REFERENCE_TABLES, ...LOCAL_TABLES]);
const DISTRIBUTED = new Set<string>(DISTRIBUTED_TABLES);
const SPACE_OPS_FILE = path.join(REPO_ROOT, 'src/storage/postgres/pg-statements.ts');
const CITUS_GUARD = "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')";

const databases: TestDatabase[] = [];
afterAll(async () => {
  await Promise.all(databases.splice(0).map((db) => db.drop()));
});

async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function migratedDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase();
  const backend = await PgBackend.open({ connectionString: db.url, maxConnections: 2 });
  await backend.close();
  return db;
}

// ---------------------------------------------------------------------------
// Catalog lint

/** Every violation of the Citus rules in the tables of `schema`, as readable lines. */
async function lintCatalog(client: pg.Client, schema = 'public'): Promise<string[]> {
  const violations: string[] = [];

  const tables = (
    await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY 1`,
      [schema],
    )
  ).rows.map((r) => r.name);
  const sharded = tables.filter((t) => !EXEMPT_TABLES.has(t));

  // Every table is classified, and every classified table exists (schema 'public' only).
  if (schema === 'public') {
    for (const t of tables) {
      if (!DISTRIBUTED.has(t) && !EXEMPT_TABLES.has(t)) {
        violations.push(
          `table ${t} is in none of DISTRIBUTED_TABLES, REFERENCE_TABLES, LOCAL_TABLES`,
        );
      }
    }
    for (const t of [...DISTRIBUTED, ...EXEMPT_TABLES]) {
      if (!tables.includes(t))
        violations.push(`table ${t} is listed in pg-migrations.ts but does not exist`);
    }
  }

  // space_id on every sharded table: NOT NULL, one type for all (colocation needs it).
  const spaceCols = new Map(
    (
      await client.query<{ table_name: string; data_type: string; is_nullable: string }>(
        `SELECT table_name, data_type, is_nullable FROM information_schema.columns
         WHERE table_schema = $1 AND column_name = 'space_id'`,
        [schema],
      )
    ).rows.map((r) => [r.table_name, r]),
  );
  const types = new Set<string>();
  for (const t of sharded) {
    const col = spaceCols.get(t);
    if (!col) {
      violations.push(`table ${t} has no space_id column`);
      continue;
    }
    types.add(col.data_type);
    if (col.is_nullable !== 'NO') violations.push(`table ${t}: space_id is nullable`);
  }
  if (types.size > 1) {
    violations.push(`space_id has different types across tables (${[...types].join(', ')})`);
  }

  // Primary keys, unique constraints and unique (or exclusion) indexes start with space_id.
  const keys = (
    await client.query<{ table: string; index: string; kind: string; columns: string[] }>(
      `SELECT t.relname AS table, ic.relname AS index,
         CASE WHEN i.indisprimary THEN 'primary key'
              WHEN i.indisexclusion THEN 'exclusion constraint'
              WHEN con.oid IS NOT NULL THEN 'unique constraint' ELSE 'unique index' END AS kind,
         ARRAY(SELECT coalesce(a.attname::text, '<expression>')
               FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
               ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
       WHERE n.nspname = $1 AND (i.indisunique OR i.indisexclusion)
       ORDER BY 1, 2`,
      [schema],
    )
  ).rows;
  for (const k of keys) {
    if (EXEMPT_TABLES.has(k.table)) continue;
    if (k.columns[0] !== 'space_id') {
      violations.push(
        `table ${k.table}: ${k.kind} ${k.index} (${k.columns.join(', ')}) does not start with space_id`,
      );
    }
  }
  for (const t of sharded) {
    if (!keys.some((k) => k.table === t && k.kind === 'primary key')) {
      violations.push(`table ${t} has no primary key`);
    }
  }

  // Foreign keys: only distributed → distributed, with space_id matched to space_id.
  const fks = (
    await client.query<{
      name: string;
      table: string;
      ref_table: string;
      columns: string[];
      ref_columns: string[];
    }>(
      `SELECT con.conname AS name, t.relname AS table, rt.relname AS ref_table,
         ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
               ORDER BY k.ord) AS columns,
         ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
               ORDER BY k.ord) AS ref_columns
       FROM pg_constraint con
       JOIN pg_class t ON t.oid = con.conrelid
       JOIN pg_class rt ON rt.oid = con.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE con.contype = 'f' AND n.nspname = $1
       ORDER BY 1`,
      [schema],
    )
  ).rows;
  for (const fk of fks) {
    const where = `foreign key ${fk.name} (${fk.table}(${fk.columns.join(', ')}) → ${fk.ref_table}(${fk.ref_columns.join(', ')}))`;
    if (!DISTRIBUTED.has(fk.table) || !DISTRIBUTED.has(fk.ref_table)) {
      violations.push(`${where} is not between two distributed tables`);
    }
    const i = fk.columns.indexOf('space_id');
    if (i < 0 || fk.ref_columns[i] !== 'space_id') {
      violations.push(`${where} does not match space_id to space_id`);
    }
  }

  // No triggers (table or event triggers).
  const triggers = (
    await client.query<{ name: string; table: string }>(
      `SELECT tg.tgname AS name, c.relname AS table FROM pg_trigger tg
       JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE NOT tg.tgisinternal AND n.nspname = $1 ORDER BY 1`,
      [schema],
    )
  ).rows;
  for (const tg of triggers) violations.push(`table ${tg.table} has trigger ${tg.name}`);
  if (schema === 'public') {
    const eventTriggers = (
      await client.query<{ evtname: string }>('SELECT evtname FROM pg_event_trigger')
    ).rows;
    for (const e of eventTriggers) violations.push(`database has event trigger ${e.evtname}`);
  }

  // No sequences, serial columns or identity columns (ids are allocated per space).
  const sequences = (
    await client.query<{ name: string; owner: string | null }>(
      `SELECT s.relname AS name, (SELECT t.relname || '.' || a.attname FROM pg_depend d
                 JOIN pg_class t ON t.oid = d.refobjid
                 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                 WHERE d.objid = s.oid AND d.classid = 'pg_class'::regclass
                   AND d.refclassid = 'pg_class'::regclass LIMIT 1) AS owner
       FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
       WHERE s.relkind = 'S' AND n.nspname = $1 ORDER BY 1`,
      [schema],
    )
  ).rows;
  for (const s of sequences) {
    violations.push(`sequence ${s.name} exists${s.owner ? ` (owned by ${s.owner})` : ''}`);
  }
  const generated = (
    await client.query<{
      table_name: string;
      column_name: string;
      is_identity: string;
      column_default: string | null;
    }>(
      `SELECT table_name, column_name, is_identity, column_default FROM information_schema.columns
       WHERE table_schema = $1 AND (is_identity = 'YES' OR column_default LIKE '%nextval(%')
       ORDER BY 1, 2`,
      [schema],
    )
  ).rows;
  for (const c of generated) {
    violations.push(
      c.is_identity === 'YES'
        ? `column ${c.table_name}.${c.column_name} is an identity column`
        : `column ${c.table_name}.${c.column_name} defaults to a sequence (${c.column_default})`,
    );
  }
  return violations;
}

/** Tables, columns, indexes and constraints of `public`, to compare schemas. */
async function schemaShape(client: pg.Client): Promise<unknown> {
  const columns = await client.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default
     FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, ordinal_position`,
  );
  const indexes = await client.query(
    `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
  );
  const constraints = await client.query(
    `SELECT c.relname AS table, con.conname, pg_get_constraintdef(con.oid) AS def
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1, 2`,
  );
  return { columns: columns.rows, indexes: indexes.rows, constraints: constraints.rows };
}

async function tableNames(client: pg.Client): Promise<string[]> {
  return (
    await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
  ).rows.map((r) => r.tablename);
}

// ---------------------------------------------------------------------------
// SQL text lint

interface Statement {
  key: string;
  text: string;
}

const STRING_OR_TEMPLATE = String.raw`(?:'((?:[^'\\]|\\.)*)'|\`((?:[^\`\\]|\\.)*)\`)`;

/** The top-level `const NAME = '…' | `…`;` strings of a module (for `${NAME}` in templates). */
function moduleConstants(source: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(String.raw`^const (\w+) =\s*${STRING_OR_TEMPLATE};`, 'gm');
  for (const m of source.matchAll(re)) out.set(m[1] as string, (m[2] ?? m[3]) as string);
  return out;
}

function resolveTemplate(text: string, constants: Map<string, string>, depth = 0): string {
  if (depth > 5) throw new Error(`template nesting too deep in: ${text}`);
  return text.replace(/\$\{(\w+)\}/g, (_, name: string) => {
    const value = constants.get(name);
    if (value === undefined) throw new Error(`\${${name}} is not a string constant of the module`);
    return resolveTemplate(value, constants, depth + 1);
  });
}

/**
 * The statements of the `SQL` object of pg-statements.ts, read from the
 * source (the object is not exported). Fails if any entry is not a plain
 * string or template literal, so no statement escapes the lint.
 */
function extractSqlObject(source: string): Statement[] {
  const open = 'const SQL = {';
  const start = source.indexOf(open);
  if (start < 0) throw new Error(`pg-statements.ts has no "${open}"`);
  const end = source.indexOf('} as const;', start);
  if (end < 0) throw new Error('the SQL object of pg-statements.ts must end with "} as const;"');
  const body = source.slice(start + open.length, end);
  const entry = new RegExp(String.raw`^\s*(\w+):\s*${STRING_OR_TEMPLATE},?[ \t]*$`, 'gm');
  const constants = moduleConstants(source);
  const statements = [...body.matchAll(entry)].map((m) => ({
    key: m[1] as string,
    text: resolveTemplate((m[2] ?? m[3]) as string, constants),
  }));
  const leftover = body
    .replace(entry, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .trim();
  if (leftover !== '') {
    throw new Error(`entries of SQL that the extractor cannot read (extend it): ${leftover}`);
  }
  return statements;
}

const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();

/** Splits at commas outside parentheses. */
function splitTopLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of list) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const VOLATILE =
  /\b(now|random|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|nextval|currval|setval|lastval|gen_random_uuid|uuid_generate_v[14])\s*\(|\b(current_timestamp|current_time|localtimestamp|localtime)\b/i;
const CAIRN_TABLES = new Set<string>([...DISTRIBUTED_TABLES, ...REFERENCE_TABLES, ...LOCAL_TABLES]);
/** Words that can follow a table name but are not its alias. */
const NOT_AN_ALIAS = new Set(
  'where join left right inner outer cross full natural on using order group limit offset set returning for union having window'.split(
    ' ',
  ),
);

/** The value list that follows `INSERT INTO t (cols)` at `from`: VALUES (…) or SELECT … [FROM]. */
function insertValues(sql: string, from: number): string[] | undefined {
  const rest = sql.slice(from);
  const head = /^\s*(VALUES\s*\(|SELECT\s+)/i.exec(rest);
  if (!head) return undefined;
  const isValues = /^\s*VALUES/i.test(head[0]);
  let depth = 0;
  let out = '';
  for (let i = head[0].length; i < rest.length; i++) {
    const ch = rest[i] as string;
    if (ch === '(') depth++;
    if (ch === ')') {
      if (depth === 0) break; // end of VALUES (…), or of the CTE holding the INSERT … SELECT
      depth--;
    }
    if (!isValues && depth === 0 && /^\s+FROM\b/i.test(rest.slice(i))) break;
    out += ch;
  }
  return splitTopLevel(out);
}

/**
 * Every way a statement breaks the Citus rules (empty when it is fine):
 * - it pins one space: a SELECT/UPDATE/DELETE/WITH filters on `space_id = $1`, and
 *   every INSERT (also inside a CTE) writes `$1` into `space_id`, which is what
 *   Citus routes an INSERT on;
 * - every cairn table it reads is constrained on its space_id (`= $1`, or equal to
 *   another table's space_id: a colocated join), so no statement spans shards;
 * - ON CONFLICT targets include space_id;
 * - no UPDATE/DELETE calls a volatile function.
 */
function lintStatement(s: Statement): string[] {
  const sql = oneLine(s.text);
  const where = `SQL.${s.key} (${sql})`;
  const out: string[] = [];
  const inserts = [...sql.matchAll(/\bINSERT INTO (\w+)\s*\(([^)]*)\)/gi)];
  for (const m of inserts) {
    const table = m[1] as string;
    const columns = splitTopLevel(m[2] as string);
    const values = insertValues(sql, (m.index ?? 0) + m[0].length);
    const i = columns.indexOf('space_id');
    if (i < 0) out.push(`${where}: INSERT INTO ${table} does not set space_id`);
    else if (!values) out.push(`${where}: INSERT INTO ${table}: values the lint cannot read`);
    else if (values[i] !== '$1') {
      out.push(
        `${where}: INSERT INTO ${table} sets space_id to ${values[i] ?? '(nothing)'}, not $1`,
      );
    }
  }
  if (!/^INSERT\b/i.test(sql) && !/(?<![.\w])space_id = \$1\b|\w\.space_id = \$1\b/.test(sql)) {
    out.push(`${where}: does not filter on space_id = $1`);
  }
  for (const m of sql.matchAll(
    /\b(FROM|JOIN|UPDATE)\s+(?:LATERAL\s+|ONLY\s+)?(\w+)(?=(?:\s+(?:AS\s+)?(\w+))?)/gi,
  )) {
    const table = m[2] as string;
    if (!CAIRN_TABLES.has(table)) continue; // a CTE, unnest(…), a subquery alias
    const candidate = m[3];
    const alias = candidate && !NOT_AN_ALIAS.has(candidate.toLowerCase()) ? candidate : table;
    const a = alias.replace(/[^\w]/g, '');
    const constrained =
      new RegExp(`\\b${a}\\.space_id\\s*=\\s*(\\$1\\b|\\w+\\.space_id\\b)`).test(sql) ||
      new RegExp(`\\w+\\.space_id\\s*=\\s*${a}\\.space_id\\b`).test(sql) ||
      (alias === table && /(?<![.\w])space_id\s*=\s*(\$1\b|\w+\.space_id\b)/.test(sql));
    if (!constrained) {
      out.push(
        `${where}: ${m[1]?.toUpperCase()} ${table}${alias !== table ? ` ${alias}` : ''} is not constrained on space_id (= $1 or a colocated join)`,
      );
    }
  }
  for (const m of sql.matchAll(/ON CONFLICT\s*(\(([^)]*)\))?/gi)) {
    if (!m[2]?.split(',').some((c) => c.trim() === 'space_id')) {
      out.push(`${where}: ON CONFLICT target does not include space_id`);
    }
  }
  if (/\b(UPDATE|DELETE)\b/i.test(sql)) {
    const v = VOLATILE.exec(sql);
    if (v) out.push(`${where}: UPDATE/DELETE uses the volatile function ${v[0]}`);
  }
  return out;
}

// ---------------------------------------------------------------------------

describe('the Citus schema lint', () => {
  it('a migrated database has no Citus violations in its catalog', async () => {
    const db = await migratedDatabase();
    await withClient(db.url, async (client) => {
      expect(await tableNames(client)).toEqual(
        [...DISTRIBUTED_TABLES, ...REFERENCE_TABLES, ...LOCAL_TABLES].sort(),
      );
      expect(await lintCatalog(client)).toEqual([]);
    });
  });

  it('the catalog lint catches each kind of violation (it is not vacuous)', async () => {
    const db = await migratedDatabase();
    await withClient(db.url, async (client) => {
      await client.query(`
        CREATE SCHEMA lint_selftest;
        SET search_path = lint_selftest;
        CREATE TABLE good (space_id TEXT NOT NULL, id BIGINT NOT NULL, PRIMARY KEY (space_id, id));
        CREATE TABLE no_space (id BIGINT PRIMARY KEY);
        CREATE TABLE bad_keys (
          space_id TEXT NOT NULL, id BIGSERIAL, other BIGINT GENERATED ALWAYS AS IDENTITY,
          code TEXT UNIQUE, PRIMARY KEY (id, space_id),
          FOREIGN KEY (space_id, id) REFERENCES good (space_id, id)
        );
        CREATE UNIQUE INDEX bad_keys_lower ON bad_keys (lower(code), space_id);
        CREATE SEQUENCE loose_seq;
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        CREATE TRIGGER bad_keys_touch BEFORE INSERT ON bad_keys FOR EACH ROW EXECUTE FUNCTION touch();
      `);
      const found = await lintCatalog(client, 'lint_selftest');
      const expected = [
        'table no_space has no space_id column',
        'table bad_keys: primary key bad_keys_pkey (id, space_id) does not start with space_id',
        'table bad_keys: unique constraint bad_keys_code_key (code) does not start with space_id',
        'table bad_keys: unique index bad_keys_lower (<expression>, space_id) does not start with space_id',
        'table no_space: primary key no_space_pkey (id) does not start with space_id',
        // `good`/`bad_keys` are not in DISTRIBUTED_TABLES.
        'foreign key bad_keys_space_id_id_fkey (bad_keys(space_id, id) → good(space_id, id)) is not between two distributed tables',
        'table bad_keys has trigger bad_keys_touch',
        'sequence bad_keys_id_seq exists (owned by bad_keys.id)',
        'sequence bad_keys_other_seq exists (owned by bad_keys.other)',
        'sequence loose_seq exists',
        'column bad_keys.id defaults to a sequence',
        'column bad_keys.other is an identity column',
      ];
      for (const e of expected) {
        expect(
          found.some((f) => f.startsWith(e)),
          `lint missed "${e}"; it found:\n${found.join('\n')}`,
        ).toBe(true);
      }
      await client.query('DROP SCHEMA lint_selftest CASCADE');
    });
  });

  describe('SQL text of pg-statements.ts', () => {
    const source = fs.readFileSync(SPACE_OPS_FILE, 'utf8');
    let extracted: Statement[] | undefined;
    /** Read lazily, so an extractor failure is a failing test, not a broken file. */
    const sqlObject = () => (extracted ??= extractSqlObject(source));

    it('extracts every statement of the SQL object', () => {
      const keys = sqlObject().map((s) => s.key);
      expect(
        keys.length,
        'a sanity floor; the leftover check guarantees none is skipped',
      ).toBeGreaterThanOrEqual(15);
      expect(new Set(keys).size).toBe(keys.length);
      for (const s of sqlObject()) expect(s.text, s.key).not.toContain('${');
    });

    it('every statement pins one space, joins are colocated, no volatile UPDATE/DELETE', () => {
      expect(sqlObject().flatMap(lintStatement)).toEqual([]);
    });

    it('the statement lint catches each kind of violation (it is not vacuous)', () => {
      const bad: Statement[] = [
        { key: 'noFilter', text: 'SELECT * FROM log WHERE branch_id = $2' },
        { key: 'volatileUpdate', text: 'UPDATE tx SET committed_at = now() WHERE space_id = $1' },
        {
          key: 'volatileDelete',
          text: 'DELETE FROM receipts WHERE space_id = $1 AND created_at < clock_timestamp()',
        },
        { key: 'seqInUpdate', text: "UPDATE log SET seq = nextval('s') WHERE space_id = $1" },
        {
          key: 'crossJoin',
          text: 'SELECT 1 FROM log l JOIN actors a ON a.id = l.actor_id WHERE l.space_id = $1',
        },
        { key: 'insertOther', text: 'INSERT INTO tx (epoch, space_id) VALUES ($1, $2)' },
        { key: 'insertNoSpace', text: 'INSERT INTO tx (epoch) VALUES ($1)' },
        {
          key: 'insertSelect',
          text: 'INSERT INTO actors (space_id, id) SELECT $1, max(id) FROM actors',
        },
        {
          key: 'cteInsert',
          text: 'WITH x AS (INSERT INTO tx (space_id, epoch) SELECT $2, 1 RETURNING 1) SELECT 1 FROM tx WHERE space_id = $1',
        },
        {
          key: 'lateral',
          text: 'SELECT 1 FROM branches b LEFT JOIN LATERAL (SELECT seq FROM log WHERE log.branch_id = b.id) t ON true WHERE b.space_id = $1',
        },
        {
          key: 'conflict',
          text: 'INSERT INTO receipts (space_id, k) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING',
        },
      ];
      const found = bad.map((s) => lintStatement(s));
      found.forEach((messages, i) => {
        expect(messages.length, `lint accepted SQL.${bad[i]?.key}`).toBeGreaterThan(0);
        expect(messages[0]).toContain(`SQL.${bad[i]?.key}`);
      });
    });

    it('the statements the backend runs are exactly these texts, and all of them pass', async () => {
      // Record every named statement cairn sends (node-postgres names them cairn_<key>).
      const seen = new Map<string, string>();
      const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
      const original = proto.query;
      proto.query = function (this: unknown, ...args: unknown[]) {
        const config = args[0] as { name?: unknown; text?: unknown } | undefined;
        if (config && typeof config === 'object' && typeof config.name === 'string') {
          if (config.name.startsWith('cairn_')) seen.set(config.name, String(config.text));
        }
        return original.apply(this, args);
      };
      const db = await freshDatabase();
      const space = 'did:key:z6MkCitusLintWorkload';
      const cairn = await createCairn({
        databaseUrl: db.url,
        serverKey: Buffer.alloc(32, 9).toString('base64url'),
        // A snapshot after every change, one automatic kept: retention deletes.
        snapshotPolicy: { everyChanges: 1, everyBytes: 1 << 30, keep: 1, anchorEvery: 0 },
      });
      try {
        // A workload that reaches every method of PgSpaceOps.
        const a = new Replica(1);
        const b = new Replica(2);
        const c1 = a.change((d) => (d.x = 1));
        const c2 = a.change((d) => (d.y = 2));
        const tx = (body: unknown) =>
          cairn.pipeline.commit(space, parseTxRequest(body, cairn.limits));
        const r1 = await tx({ clientTxId: 'one', writes: [write('doc-a', [c1, c2])] });
        expect(r1.ok).toBe(true);
        expect((await tx({ clientTxId: 'one', writes: [write('doc-a', [c1, c2])] })).ok).toBe(true);
        // The same bytes on another doc: stored once, the second row points at the first.
        const r2 = await tx({
          writes: [write('doc-b', [c1]), write('doc-c', [b.change((d) => (d.z = 3))])],
        });
        expect(r2.ok).toBe(true);
        for (const p of [
          '/docs/doc-a',
          '/docs/doc-a/heads',
          '/docs/doc-a/changes',
          '/tx/1',
          '/docs/doc-a?epoch=1',
          `/docs/doc-a?at=${Date.now()}`,
        ]) {
          const res = await cairn.fetch(new Request(`http://cairn.test/v1/${space}${p}`));
          expect(res.status, p).toBe(200);
        }
        // History (SPEC §3-§5): a branch from a point, its own write, snapshots made by
        // policy (with retention) and on request, a read from a snapshot, the history feed.
        const api = (p: string, init?: RequestInit) =>
          cairn.fetch(new Request(`http://cairn.test/v1/${space}${p}`, init));
        const post = (p: string, body: unknown) =>
          api(p, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const forked = await post('/docs/doc-a/branches', {
          name: 'feature',
          from: { branch: 'main', seq: 1 },
        });
        expect(forked.status, await forked.clone().text()).toBe(201);
        const onFork = new Replica(3);
        onFork.receive([c1]);
        const own = await tx({
          writes: [
            write('doc-a', [onFork.change((d) => (d.f = 1))], [hashOf(c1)], { branch: 'feature' }),
          ],
        });
        expect(own.ok, JSON.stringify(own)).toBe(true);
        await cairn.snapshots.idle();
        const mainHeads = a.heads;
        const more = await tx({
          writes: [write('doc-a', [a.change((d) => (d.x = 3))], mainHeads)],
        });
        expect(more.ok, JSON.stringify(more)).toBe(true);
        // Submitted in one turn, so one batch appends several tx records at once.
        const burst = await Promise.all(
          [11, 12, 13].map((n) =>
            tx({ writes: [write(`burst-${n}`, [new Replica(n).change((d) => (d.n = n))])] }),
          ),
        );
        expect(burst.every((o) => o.ok)).toBe(true);
        await cairn.snapshots.idle();
        const pinned = await cairn.snapshots.makeNow(space, 'doc-a', 'main', 2);
        expect(pinned).toMatchObject({ seq: 2, pinned: true });
        const snapshotRes = await api(`/snapshots/${pinned.id}`);
        expect(snapshotRes.status).toBe(200);
        const cold = new DocReader(cairn.backend, { cache: new DocCache(1 << 30) });
        const atTwo = await cold.readDoc(space, 'doc-a', 'main', { kind: 'seq', seq: 2 });
        expect(atTwo.seq).toBe(2);
        expect(cold.stats.fromSnapshot, 'the read was served from a snapshot').toBe(1);
        const history = await api('/docs/doc-a/history?branch=feature&limit=1');
        expect(history.status).toBe(200);
        const { nextCursor } = (await history.json()) as { nextCursor?: string };
        expect(nextCursor).toBeDefined();
        expect((await api(`/docs/doc-a/history?branch=feature&cursor=${nextCursor}`)).status).toBe(
          200,
        );
        const lease = await cairn.backend.acquireSpace(space, { create: false });
        expect(lease).toBeDefined();
        await lease?.store.writeBatch(async (ops) => {
          const branch = await ops.getBranch('doc-a', 'main');
          expect(branch).toBeDefined();
          const id = branch?.id as number;
          await ops.chainTip();
          await ops.chainTip();
          await ops.getBranchById(id);
          await ops.listBranches('doc-a');
          await ops.listDocIds('doc', null, 10);
          await ops.findInBranch(id, branch?.heads ?? [], 10);
          await ops.readBranchLog(id, 1, 2, 10, false);
          await ops.readBranchLog(id, 1, 2, 10, true);
          await ops.readBranchBytes(id, 1, 2);
          await ops.actorSeqs(id, [actorId(1)]);
          await ops.commitCovering(id, 1);
          await ops.commitsEndingIn(id, 1, 2);
          await ops.lastCommitUpTo(id, 1);
          await ops.epochAtTime(Date.now());
          await ops.getTxRecord(1);
          await ops.getReceipt('one');
          await ops.docKind('doc-a');
          await ops.createBranch({
            docId: 'doc-a',
            name: 'fork',
            kind: 'automerge',
            parentId: id,
            forkSeq: 1,
            forkHeads: [],
            createdAt: 1,
          });
          await ops.closeBranch(id, 'fork');
          await ops.pruneReceipts(0);
          await ops.actorMaxima(id, 1, 2);
          await ops.commitsBefore(id, 3, 10);
          await ops.logSizeAfter(id, 0);
          await ops.setActorSeqs(id, new Map([[actorId(1), 2]]));
          // A tx record queued while no log row is: it goes in alone (the batch rolls back).
          await ops.appendTxRecords([
            {
              epoch: 1_000_000,
              committedAt: 1,
              txHash: new Uint8Array(32),
              prevTxHash: new Uint8Array(32),
              bodyHash: new Uint8Array(32),
              serverSig: new Uint8Array(64),
              serverDid: 'did:key:z6MkLint',
              body: new Uint8Array([0xa0]),
            },
          ]);
          expect((await ops.getTxRecord(1_000_000))?.epoch).toBe(1_000_000);
          const snapshotId = await ops.putSnapshot({
            branchId: id,
            seq: 1,
            heads: [hashOf(c1)],
            rootRef: rootRef([hashOf(c1)]),
            pinned: false,
            createdAt: 1,
            bytes: new Uint8Array([1, 2, 3]),
          });
          await ops.nearestSnapshot(id, 1);
          await ops.getSnapshot(snapshotId);
          await ops.readSnapshotBytes(snapshotId);
          await ops.listSnapshots(id);
          await ops.deleteSnapshots([snapshotId]);
          await ops.dropEmptyBranch(id);
          return { result: undefined, commit: false };
        });
        // The same reads outside a batch (through the pool).
        const reader = lease?.store.reader;
        await reader?.chainTip();
        const main = await reader?.getBranch('doc-a', 'main');
        await reader?.readBranchLog(main?.id as number, 1, 2, 10, true);
        await reader?.getTxRecord(1);
        // Retention kept the newest automatic snapshot of main, and the one made on request.
        const snaps = (await reader?.listSnapshots(main?.id as number)) ?? [];
        expect(snaps.filter((s) => !s.pinned)).toHaveLength(1);
        expect(snaps.filter((s) => s.pinned).map((s) => s.id)).toEqual([pinned.id]);
        lease?.release();
      } finally {
        proto.query = original;
        await cairn.close();
      }
      const byKey = new Map(sqlObject().map((s) => [`cairn_${s.key}`, s.text]));
      const mismatched: string[] = [];
      const extra: Statement[] = [];
      for (const [name, text] of seen) {
        const fromSource = byKey.get(name);
        if (fromSource === undefined) extra.push({ key: name.replace(/^cairn_/, ''), text });
        else if (oneLine(fromSource) !== oneLine(text)) {
          mismatched.push(`${name}: source "${oneLine(fromSource)}" ≠ run "${oneLine(text)}"`);
        }
      }
      expect(
        mismatched,
        'the extractor must read the statements as the backend sends them',
      ).toEqual([]);
      const unused = [...byKey.keys()].filter((k) => !seen.has(k));
      expect(unused, 'the workload should run every statement of the SQL object').toEqual([]);
      // Named statements outside the SQL object (the space row lock) obey the same rules.
      expect(extra.map((s) => s.key)).toContain('lockSpace');
      expect(extra.flatMap(lintStatement)).toEqual([]);
    });
  });

  describe('migrations', () => {
    it('there are five steps: the schema, its Citus distribution, snapshots, write generations, doc kinds', () => {
      expect(PG_MIGRATIONS.map((m) => m.version)).toEqual([1, 2, 3, 4, 5]);
    });

    it('the Citus steps are no-ops on plain PostgreSQL (2 changes nothing, 3 only adds snapshots)', async () => {
      const db = await freshDatabase();
      await withClient(db.url, async (client) => {
        const citus = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'citus'");
        expect(citus.rowCount).toBe(0);
        const exec = await pgMigrationExecutor(client);
        expect(await migrateUp(exec, PG_MIGRATIONS.slice(0, 1))).toEqual([1]);
        const before = await schemaShape(client);
        const v1Tables = await tableNames(client);
        expect(await migrateUp(exec, PG_MIGRATIONS.slice(0, 2))).toEqual([2]);
        expect(await schemaShape(client)).toEqual(before);
        expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
          current: 2,
          latest: 5,
          pending: [3, 4, 5],
        });
        expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual([3, 4, 5]);
        expect(await tableNames(client)).toEqual([...v1Tables, 'snapshots'].sort());
        expect(await lintCatalog(client)).toEqual([]);
        expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
          current: 5,
          latest: 5,
          pending: [],
        });
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(5);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(4);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(3);
        expect(await schemaShape(client)).toEqual(before);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(2);
        expect(await schemaShape(client)).toEqual(before);
      });
    });

    it('with Citus present, steps 2 and 3 distribute every table on space_id (simulated with stubs)', async () => {
      const [, step2, step3] = PG_MIGRATIONS as [Migration, Migration, Migration];
      for (const [name, step] of [
        ['step 2', step2],
        ['step 3', step3],
      ] as const) {
        expect(
          step.up.split(CITUS_GUARD).length - 1,
          `${name}: up is guarded by the citus check`,
        ).toBe(1);
        expect(
          step.down.split(CITUS_GUARD).length - 1,
          `${name}: down is guarded by the citus check`,
        ).toBe(1);
      }
      const db = await migratedDatabase();
      await withClient(db.url, async (client) => {
        // Stand-ins with Citus's signatures that record their calls, outside `public`.
        await client.query(`
          CREATE SCHEMA citus_stub;
          CREATE TABLE citus_stub.calls (n BIGINT GENERATED ALWAYS AS IDENTITY, fn TEXT, tbl TEXT, col TEXT, colocate TEXT);
          CREATE FUNCTION citus_stub.create_reference_table(table_name regclass) RETURNS void
            LANGUAGE sql AS $$ INSERT INTO citus_stub.calls (fn, tbl) VALUES ('reference', table_name::text) $$;
          CREATE FUNCTION citus_stub.create_distributed_table(table_name regclass, distribution_column text,
              distribution_type text DEFAULT 'hash', colocate_with text DEFAULT 'default', shard_count int DEFAULT NULL)
            RETURNS void LANGUAGE sql AS $$
              INSERT INTO citus_stub.calls (fn, tbl, col, colocate)
              VALUES ('distribute', table_name::text, distribution_column, colocate_with) $$;
          CREATE FUNCTION citus_stub.undistribute_table(table_name regclass, cascade_via_foreign_keys boolean DEFAULT false)
            RETURNS void LANGUAGE sql AS $$ INSERT INTO citus_stub.calls (fn, tbl) VALUES ('undistribute', table_name::text) $$;
          SET search_path = public, citus_stub;
        `);
        type Call = { fn: string; tbl: string; col: string | null; colocate: string | null };
        const calls = async () =>
          (
            await client.query<Call>(
              'SELECT fn, tbl, col, colocate FROM citus_stub.calls ORDER BY n',
            )
          ).rows;
        const run = async (sql: string) => {
          await client.query('TRUNCATE citus_stub.calls');
          await client.query(sql.replace(CITUS_GUARD, 'true'));
          return calls();
        };
        const colocated = (t: string) => ({
          fn: 'distribute',
          tbl: t,
          col: 'space_id',
          colocate: 'spaces',
        });
        // Back to schema 2 first: step 3's down undistributes snapshots, then drops it.
        expect(await run(step3.down)).toEqual([
          { fn: 'undistribute', tbl: 'snapshots', col: null, colocate: null },
        ]);
        expect(await tableNames(client)).not.toContain('snapshots');
        const up2 = await run(step2.up);
        expect(up2).toEqual([
          ...REFERENCE_TABLES.map((t) => ({ fn: 'reference', tbl: t, col: null, colocate: null })),
          { fn: 'distribute', tbl: 'spaces', col: 'space_id', colocate: 'default' },
          ...DISTRIBUTED_TABLES.filter((t) => t !== 'spaces' && t !== 'snapshots').map(colocated),
        ]);
        const up3 = await run(step3.up);
        expect(up3).toEqual([colocated('snapshots')]);
        expect(await tableNames(client)).toContain('snapshots');
        // Over both steps, every distributed table is distributed exactly once, on space_id.
        const distributed = [...up2, ...up3].filter((c) => c.fn === 'distribute').map((c) => c.tbl);
        expect([...distributed].sort()).toEqual([...DISTRIBUTED_TABLES].sort());
        // Down in reverse order undoes all of it.
        const undone = [...(await run(step3.down)), ...(await run(step2.down))].map(
          (c) => `${c.fn} ${c.tbl}`,
        );
        expect(undone[0]).toBe('undistribute snapshots');
        expect(undone.sort()).toEqual(
          [...DISTRIBUTED_TABLES, ...REFERENCE_TABLES].map((t) => `undistribute ${t}`).sort(),
        );
        // The migration marker stays on the coordinator.
        for (const t of LOCAL_TABLES) expect(undone).not.toContain(`undistribute ${t}`);
        await client.query('DROP SCHEMA citus_stub CASCADE');
      });
    });

    it('migrate down then up works for all five steps', async () => {
      const db = await migratedDatabase();
      await withClient(db.url, async (client) => {
        const exec = await pgMigrationExecutor(client);
        const full = await schemaShape(client);
        expect(await migrateUp(exec, PG_MIGRATIONS), 'up is idempotent').toEqual([]);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(5);
        const v4 = await schemaShape(client);
        expect(v4).not.toEqual(full);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(4);
        const v3 = await schemaShape(client);
        expect(v3).not.toEqual(full);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(3);
        expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
          current: 2,
          latest: 5,
          pending: [3, 4, 5],
        });
        const v2 = await schemaShape(client);
        expect(v2).not.toEqual(full);
        expect(await tableNames(client)).not.toContain('snapshots');
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(2);
        expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
          current: 1,
          latest: 5,
          pending: [2, 3, 4, 5],
        });
        expect(await schemaShape(client)).toEqual(v2);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(1);
        expect(await tableNames(client)).toEqual(['schema_migrations']);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBeUndefined();
        expect(await migrationStatus(exec, PG_MIGRATIONS)).toEqual({
          current: 0,
          latest: 5,
          pending: [1, 2, 3, 4, 5],
        });
        expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual([1, 2, 3, 4, 5]);
        expect(await schemaShape(client)).toEqual(full);
        expect(await lintCatalog(client)).toEqual([]);
        // Steps down and up again, with data in the tables.
        await client.query("INSERT INTO spaces (space_id, created_at) VALUES ('did:key:z6MkX', 1)");
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(5);
        expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual([5]);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(5);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(4);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(3);
        expect(await migrateDown(exec, PG_MIGRATIONS)).toBe(2);
        expect(await migrateUp(exec, PG_MIGRATIONS)).toEqual([2, 3, 4, 5]);
        expect(await schemaShape(client)).toEqual(full);
        expect((await client.query('SELECT space_id FROM spaces')).rows).toEqual([
          { space_id: 'did:key:z6MkX' },
        ]);
      });
      // A backend opens the re-migrated database.
      const backend = await PgBackend.open({ connectionString: db.url, maxConnections: 1 });
      try {
        expect(await backend.schemaVersion()).toBe(5);
      } finally {
        await backend.close();
      }
    });

    it('concurrent starts apply each migration exactly once', async () => {
      for (const starts of [2, 4]) {
        const db = await freshDatabase();
        const backends = await Promise.all(
          Array.from({ length: starts }, () =>
            PgBackend.open({ connectionString: db.url, maxConnections: 2 }),
          ),
        );
        try {
          await withClient(db.url, async (client) => {
            const rows = (
              await client.query<{ version: number; name: string }>(
                'SELECT version, name FROM schema_migrations ORDER BY version',
              )
            ).rows;
            expect(
              rows.map((r) => r.version),
              `${starts} concurrent starts`,
            ).toEqual([1, 2, 3, 4, 5]);
            expect(rows.map((r) => r.name)).toEqual(PG_MIGRATIONS.map((m) => m.name));
            const held = await client.query(
              "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
              [MIGRATION_LOCK_KEY],
            );
            expect(held.rowCount, 'the migration lock is released').toBe(0);
            expect(await lintCatalog(client)).toEqual([]);
          });
          for (const b of backends) expect(await b.schemaVersion()).toBe(5);
        } finally {
          await Promise.all(backends.map((b) => b.close()));
        }
      }
    });
  });
});
