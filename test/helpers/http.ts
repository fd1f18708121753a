/** Requests of the end-to-end tests: JSON in and out, never waiting forever. */
export const REQUEST_TIMEOUT_MS = 15_000;

export async function getJson<T>(url: string): Promise<{ status: number; json: T }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, json: (await res.json()) as T };
}

export async function postJson<T>(
  url: string,
  body: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, json: (await res.json()) as T };
}
