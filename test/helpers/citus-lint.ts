import path from 'node:path';
import type pg from 'pg';
import {
  DISTRIBUTED_TABLES,
  LOCAL_TABLES,
  REFERENCE_TABLES,
} from '../../src/storage/postgres/pg-migrations.js';
import { REPO_ROOT } from './server-process.js';

/**
 * The Citus schema lint (STACK.md, SPEC §1): the PostgreSQL schema must stay
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
/** The file whose SQL object holds every statement of the PostgreSQL backend's space ops. */
export const SPACE_OPS_FILE = path.join(REPO_ROOT, 'src/storage/postgres/pg-statements.ts');
/** The file whose YJS_SQL object holds every statement of its Yjs docs. */
export const YJS_OPS_FILE = path.join(REPO_ROOT, 'src/storage/postgres/pg-yjs-statements.ts');
/** The file whose KV_SQL object holds every statement of its extension KV records. */
export const KV_OPS_FILE = path.join(REPO_ROOT, 'src/storage/postgres/pg-kv-statements.ts');
/** The condition every Citus-only migration step is guarded by. */
export const CITUS_GUARD = "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')";

// Catalog lint

/** Every violation of the Citus rules in the tables of `schema`, as readable lines. */
export async function lintCatalog(client: pg.Client, schema = 'public'): Promise<string[]> {
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
export async function schemaShape(client: pg.Client): Promise<unknown> {
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

export async function tableNames(client: pg.Client): Promise<string[]> {
  return (
    await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
  ).rows.map((r) => r.tablename);
}

// ---------------------------------------------------------------------------
// SQL text lint

export interface Statement {
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
 * The statements of the `SQL` object of pg-statements.ts (or the object
 * `name` of another statements file), read from the source. Fails if any
 * entry is not a plain string or template literal, so no statement escapes
 * the lint.
 */
export function extractSqlObject(source: string, name = 'SQL'): Statement[] {
  const open = `const ${name} = {`;
  const start = source.indexOf(open);
  if (start < 0) throw new Error(`the statements file has no "${open}"`);
  const end = source.indexOf('} as const;', start);
  if (end < 0) throw new Error(`the ${name} object must end with "} as const;"`);
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

export const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();

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
export function lintStatement(s: Statement): string[] {
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
