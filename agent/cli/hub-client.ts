import type { z } from "zod";
import { ApiError } from "../../protocol/api-error.ts";
import type { DirectiveEvent } from "../../protocol/api.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { HubSettings } from "./settings.ts";
import { sseData } from "./sse.ts";

/**
 * A request the hub refused or could not be reached for (status 0), so a caller can tell passing trouble from a
 * refusal; `code` is the ApiError code when the hub said one.
 */
export class HubError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "HubError";
  }

  /** Worth trying again: the hub was unreachable or failed on its side. */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

type Query = Record<string, string | number | undefined>;

interface RequestOptions {
  body?: unknown;
  /** Bytes sent as they are (application/octet-stream) instead of a JSON body. */
  raw?: Uint8Array;
  query?: Query;
  signal?: AbortSignal;
}

/**
 * The hub's HTTP API over fetch. Every answer is parsed with its protocol schema, and every failure (network, ApiError,
 * an answer that is not what the protocol says) becomes a CliError with one line that never contains the API key.
 */
export class HubClient {
  constructor(readonly settings: HubSettings) {}

  /** `/api/sites/<site>/<segments...>` with each segment escaped. */
  sitePath(...segments: string[]): string {
    return ["", "api", "sites", this.settings.site, ...segments].map(encodeURIComponent).join("/");
  }

  async request<S extends z.ZodType>(method: string, path: string, schema: S, options: RequestOptions = {}): Promise<z.output<S>> {
    const response = await this.send(method, path, "application/json", options);
    const text = await response.text().catch((error: Error) => {
      throw new CliError(`the hub's answer to ${method} ${path} broke off: ${error.message}`);
    });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(`the hub answered ${method} ${path} with something that is not JSON (${response.status})`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new CliError(`the hub's answer to ${method} ${path} does not match the protocol: ${issuesLine(parsed.error)}`);
    }
    return parsed.data;
  }

  /** Any event stream of the hub (GET when `body` is undefined), each event parsed with `schema`. */
  async openStream<S extends z.ZodType>(method: string, path: string, body: unknown, schema: S, signal: AbortSignal): Promise<EventStream<z.output<S>>> {
    const response = await this.send(method, path, "text/event-stream", { body, signal });
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || !response.body) {
      await response.body?.cancel();
      throw new CliError(`the hub answered ${method} ${path} with ${type || "no content type"} instead of an event stream`);
    }
    return { headers: response.headers, events: parsedEvents(response.body, schema, signal) };
  }

  private async send(method: string, path: string, accept: string, options: RequestOptions): Promise<Response> {
    const url = new URL(this.settings.hub + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept, authorization: `Bearer ${this.settings.apiKey}` };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.raw !== undefined) headers["content-type"] = "application/octet-stream";
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
        signal: options.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      throw new HubError(`cannot reach the hub at ${url.origin}: ${networkReason(error)}`, 0);
    }
    // A hub that echoes what it was sent must not make the key show up in a terminal or a CI log.
    if (!response.ok) {
      const { line, code } = await failureOf(response);
      throw new HubError(line.replaceAll(this.settings.apiKey, "[api key]"), response.status, code);
    }
    return response;
  }
}

export interface EventStream<E = DirectiveEvent> {
  headers: Headers;
  events: AsyncGenerator<E>;
}

async function* parsedEvents<S extends z.ZodType>(body: ReadableStream<Uint8Array>, schema: S, signal: AbortSignal): AsyncGenerator<z.output<S>> {
  for await (const data of brokenOffAsCliError(sseData(body), signal)) {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new CliError(`the hub sent an event that is not JSON: ${data.slice(0, 100)}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new CliError(`the hub sent an event that does not match the protocol: ${issuesLine(parsed.error)}`);
    yield parsed.data;
  }
}

async function* brokenOffAsCliError(data: AsyncGenerator<string>, signal: AbortSignal): AsyncGenerator<string> {
  try {
    yield* data;
  } catch (error) {
    if (signal.aborted) throw error;
    throw new CliError(`the event stream from the hub broke off: ${networkReason(error)}`);
  }
}

/** fetch hides the socket error in `cause`; its code (ECONNREFUSED, ENOTFOUND, ...) is what the user can act on. */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

function apiErrorOf(text: string): ApiError | undefined {
  try {
    return ApiError.safeParse(JSON.parse(text)).data;
  } catch {
    return undefined;
  }
}

async function failureOf(response: Response): Promise<{ line: string; code: string | null }> {
  const body = apiErrorOf(await response.text().catch(() => ""));
  const status = response.status;
  if (!body) return { line: `the hub answered ${status} ${response.statusText}`.trimEnd(), code: null };
  const issues = body.error.issues?.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ");
  const hint = status === 401 ? "; check --api-key, CORTEX_API_KEY or the config file" : "";
  return { line: `${body.error.message}${issues ? `: ${issues}` : ""} (${status})${hint}`, code: body.error.code };
}
