/**
 * What a Durable Object RPC method returns. Thrown errors lose their type across the RPC boundary, so expected
 * failures travel as values with the HTTP status the Worker should answer.
 */
export interface HubFailure {
  status: 400 | 401 | 403 | 404 | 409 | 410 | 413 | 422 | 429 | 503;
  code: string;
  message: string;
  /** For a 429: how long the caller should wait before trying again. */
  retryAfterSeconds?: number;
}

export type HubResult<T> = { ok: true; value: T } | { ok: false; error: HubFailure };

export function ok<T>(value: T): HubResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(status: HubFailure["status"], code: string, message: string): HubResult<T> {
  return { ok: false, error: { status, code, message } };
}

/** A refusal to try again yet, answered as 429 with a Retry-After header. */
export function throttled<T = never>(waitMs: number, message: string): HubResult<T> {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return { ok: false, error: { status: 429, code: "too_many_attempts", message: `${message}; try again in ${retryAfterSeconds} s`, retryAfterSeconds } };
}
