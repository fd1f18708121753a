import { ROUTES } from '../protocol/api.js';

/** A route path (`/v1/:space/docs/:docId`) as a pattern over decoded request paths. */
function pattern(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}$`);
}

const PATTERNS = ROUTES.map((r) => ({ method: r.method.toUpperCase(), re: pattern(r.path) }));

/**
 * The methods a path answers to (HEAD with GET), for `405 MethodNotAllowed`
 * and its `Allow` header; empty when no route has that path (`404 NotFound`).
 */
export function allowedMethods(path: string, basePath = ''): string[] {
  if (!path.startsWith(basePath)) return [];
  const rest = path.slice(basePath.length) || '/';
  const methods = new Set<string>();
  for (const { method, re } of PATTERNS) {
    if (!re.test(rest)) continue;
    methods.add(method);
    if (method === 'GET') methods.add('HEAD');
  }
  return [...methods].sort();
}
