import { DurableObject } from "cloudflare:workers";

interface Env {
  ECHO: DurableObjectNamespace<Echo>;
}

/**
 * The floor every hub figure stands on: the same runtime (`wrangler dev`, local workerd) doing the least a request
 * can do. A WebSocket whose frames a hibernatable Durable Object sends back from JavaScript, an HTTP request that
 * makes one RPC call to the object, and one that also writes a row to the object's SQLite storage.
 */
export class Echo extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
  }

  override async fetch(): Promise<Response> {
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    ws.send(message);
  }

  echo(value: string): string {
    return value;
  }

  write(value: string): string {
    this.ctx.storage.sql.exec("INSERT INTO rows (at) VALUES (?)", Date.now());
    return value;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const stub = env.ECHO.get(env.ECHO.idFromName("echo"));
    switch (url.pathname) {
      case "/healthz":
        return new Response("ok");
      case "/ws":
        return stub.fetch(request);
      case "/rpc":
        return new Response(await stub.echo("ok"));
      case "/write":
        return new Response(await stub.write("ok"));
      default:
        return new Response("not found", { status: 404 });
    }
  },
} satisfies ExportedHandler<Env>;
