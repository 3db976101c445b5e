/**
 * What a Durable Object RPC method returns. Thrown errors lose their type across the RPC boundary, so expected
 * failures travel as values with the HTTP status the Worker should answer.
 */
export interface HubFailure {
  status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429 | 503;
  code: string;
  message: string;
}

export type HubResult<T> = { ok: true; value: T } | { ok: false; error: HubFailure };

export function ok<T>(value: T): HubResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(status: HubFailure["status"], code: string, message: string): HubResult<T> {
  return { ok: false, error: { status, code, message } };
}
