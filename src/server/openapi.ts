import { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import { ROUTES, type BodySpec, type RouteSpec } from '../protocol/api.js';
import { errorBody } from '../protocol/receipt.js';
import { ERROR_STATUS } from './error-status.js';

type Json = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table
 * (protocol/api.ts) and the zod schemas that validate requests and type the
 * answers — built once per server, served at `GET /openapi.json`.
 */
export function openApiDocument(options: { version: string; basePath?: string }): Json {
  const components: Record<string, Json> = {};
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of ROUTES) {
    const path = (options.basePath ?? '') + route.path.replace(/:([A-Za-z]+)/g, '{$1}');
    (paths[path] ??= {})[route.method] = operation(route, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'cairn',
      version: options.version,
      description:
        'Versioned storage and sync server for CRDT documents. Errors are ' +
        '`{ok: false, error: {code, message, …}}` with the status of their code.',
    },
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        ucan: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'UCAN',
          description: 'A UCAN (docs/AUTH.md) granting the listed ability over the space.',
        },
      },
    },
  };
}

function operation(route: RouteSpec, components: Record<string, Json>): Json {
  const op: Json = {
    operationId: route.id,
    summary: route.summary,
    tags: [route.tag],
    ...(route.description ? { description: route.description } : {}),
    parameters: [
      ...parameters(route.params, 'path', components, route.id),
      ...parameters(route.query, 'query', components, route.id),
    ],
    responses: responses(route, components),
    // A UCAN with `route.can` over the path's space (SPEC §7); public routes need none.
    security: route.can ? [{ ucan: [route.can] }] : [],
  };
  if (route.body) {
    op.requestBody = {
      required: !('json' in route.body && route.body.mayBeEmpty === true),
      content: content(route.body, 'input', components, route.id),
    };
  }
  return op;
}

function parameters(
  schema: z.ZodObject | undefined,
  where: 'path' | 'query',
  components: Record<string, Json>,
  prefix: string,
): Json[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const converted = toSchema(field as z.ZodType, 'input', components, `${prefix}_${name}`);
    const { description, ...rest } = converted as Json & { description?: string };
    return {
      name,
      in: where,
      required: where === 'path' || !(field as z.ZodType).safeParse(undefined).success,
      schema: rest,
      ...(description ? { description } : {}),
    };
  });
}

function responses(route: RouteSpec, components: Record<string, Json>): Json {
  const out: Json = {};
  for (const [status, answer] of Object.entries(route.ok)) {
    out[status] = {
      description: answer.description,
      ...(answer.body ? { content: content(answer.body, 'output', components, route.id) } : {}),
      ...(answer.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(answer.headers).map(([h, d]) => [
                h,
                { description: d, schema: { type: 'string' } },
              ]),
            ),
          }
        : {}),
    };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  const auth: ErrorCode[] = route.can ? ['Unauthorized', 'Forbidden'] : [];
  for (const code of [...route.errors, ...auth]) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const schema = route.refusal
      ? { oneOf: [ref(errorBody, components), ref(route.refusal as z.ZodType, components)] }
      : ref(errorBody, components);
    out[String(status)] = {
      description: codes.join(', '),
      content: { 'application/json': { schema } },
    };
  }
  return out;
}

function content(
  body: BodySpec,
  io: 'input' | 'output',
  components: Record<string, Json>,
  prefix: string,
): Json {
  if ('binary' in body) {
    return { [body.binary]: { schema: { type: 'string', contentMediaType: body.binary } } };
  }
  return { 'application/json': { schema: toSchema(body.json, io, components, prefix) } };
}

function ref(schema: z.ZodType, components: Record<string, Json>): Json {
  return toSchema(schema, 'output', components, 'ref');
}

/**
 * One zod schema as an OpenAPI schema object: named schemas (`.meta({id})`)
 * and their named parts go to `components.schemas` and are referenced.
 */
function toSchema(
  schema: z.ZodType,
  io: 'input' | 'output',
  components: Record<string, Json>,
  prefix: string,
): Json {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  const defs = (converted.$defs ?? {}) as Record<string, Json>;
  delete converted.$defs;
  delete converted.$schema;
  // Anonymous helper definitions get a name of their own route; named ones keep theirs.
  const rename = new Map(
    Object.keys(defs).map((k) => [k, k.startsWith('__') ? `${prefix}${k.slice(1)}` : k]),
  );
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v === null || typeof v !== 'object') return v;
    const o: Json = {};
    for (const [k, x] of Object.entries(v)) {
      o[k] =
        k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')
          ? `#/components/schemas/${rename.get(x.slice(8)) ?? x.slice(8)}`
          : rewrite(x);
    }
    return o;
  };
  for (const [name, def] of Object.entries(defs)) {
    components[rename.get(name) as string] = rewrite(def) as Json;
  }
  return rewrite(converted) as Json;
}
