import type { ApiError } from "../../protocol/api.ts";

/** An API answer that was not a success, with the hub's error code and message (shown to the user as text). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: NonNullable<ApiError["error"]["issues"]> = [],
  ) {
    super(message);
  }

  /** The message with the first field problems, for a form's error line. */
  get detail(): string {
    const fields = this.issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`);
    return fields.length ? `${this.message} (${fields.join("; ")})` : this.message;
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when the hub says the session is gone, so the app can go back to sign-in. */
export function onUnauthorized(listener: Listener): void {
  unauthorizedListeners.add(listener);
}

export async function failureOf(res: Response): Promise<ApiFailure> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as ApiError;
    if (body?.error?.code) return new ApiFailure(res.status, body.error.code, body.error.message, body.error.issues);
  } catch {
    // Not an API error body (a proxy's page, say): fall through to a generic message.
  }
  return new ApiFailure(res.status, "http_error", `the hub answered ${res.status} ${res.statusText}`.trim());
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Sends a request with the session cookie; JSON in, JSON out; a non-2xx answer throws `ApiFailure`. */
export async function send(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    credentials: "same-origin",
    signal: opts.signal,
  });
  if (!res.ok) {
    const failure = await failureOf(res);
    if (res.status === 401 && !path.startsWith("/api/auth/") && !path.startsWith("/api/setup")) {
      for (const l of unauthorizedListeners) l();
    }
    throw failure;
  }
  return res;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiFailure) return err.detail;
  if (err instanceof DOMException && err.name === "AbortError") return "stopped";
  if (err instanceof Error) return err.message;
  return String(err);
}
