/**
 * A person's browser session as a test drives it without a browser: the cookie the hub sets, sent back with the
 * hub's own Origin (as the dashboard does), JSON in and out.
 */
export class HubSession {
  private cookie = "";

  constructor(private readonly url: string) {}

  /** The session token, to hand to a real browser context. */
  get token(): string {
    return this.cookie.replace(/^__Host-cortex_session=/, "");
  }

  async post<T>(path: string, body: unknown, schema: { parse(v: unknown): T }, expected = 200): Promise<T> {
    const res = await fetch(this.url + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Origin: this.url, ...(this.cookie ? { Cookie: this.cookie } : {}) },
      body: JSON.stringify(body),
    });
    const set = /__Host-cortex_session=[^;]+/.exec(res.headers.get("Set-Cookie") ?? "")?.[0];
    if (set) this.cookie = set;
    const text = await res.text();
    if (res.status !== expected) throw new Error(`${path} answered ${res.status}: ${text}`);
    return schema.parse(JSON.parse(text));
  }
}

/** For answers a test does not look into. */
export const ANY_JSON = { parse: (v: unknown) => v };
