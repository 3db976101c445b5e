import http from "node:http";

/**
 * A keep-alive HTTP/1.1 client with one connection, lighter on this process than `fetch`: on a 2-core machine the
 * client's own CPU would otherwise be a visible part of a 2 ms figure.
 */
export class KeepAliveClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    private readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  /** Sends a request and resolves with its status and body text; anything but `expect` is an error. */
  request(method: string, path: string, body?: string, expect = 200): Promise<string> {
    return new Promise((resolve, reject) => {
      const headers = { ...this.headers, ...(body === undefined ? {} : { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) }) };
      const req = http.request(`${this.baseUrl}${path}`, { method, agent: this.agent, headers }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => (res.statusCode === expect ? resolve(text) : reject(new Error(`${method} ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`))));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  /** A client of its own, with the same headers, for the same server reached at another address. */
  at(baseUrl: string): KeepAliveClient {
    return new KeepAliveClient(baseUrl, this.headers);
  }

  close(): void {
    this.agent.destroy();
  }
}
