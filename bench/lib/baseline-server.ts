import { createServer, type ServerResponse } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import type { DirectiveEvent } from "../../protocol/api.ts";
import { MAX_CHUNK_BYTES, PING_FRAME, PONG_FRAME } from "../../protocol/limits.ts";

/**
 * The baseline every hub figure is set against: a bare `ws` server in its own process that does the least the
 * protocol asks (answers register, heartbeat and ping; fans a directive out and counts results; echoes; streams)
 * with no validation, storage or routing. Run as a child process; prints its port on stdout.
 *
 * HTTP control: POST /fanout sends a directive to every registered socket and answers when all results are in.
 * GET /events?bytes=N answers with N bytes of output as the hub's server-sent `chunk` events, as the hub writes them
 * (MAX_CHUNK_BYTES chunks, 15 events per write), then ends: what an SSE client costs with no hub behind it.
 * WebSocket text frames starting with "echo:" come back as they are; "stream:<bytes>" is answered with that many
 * bytes in MAX_CHUNK_BYTES frames and then "end".
 */
const registered = new Set<WebSocket>();
let fanout: { remaining: number; done: () => void } | null = null;

const http = createServer((req, res) => {
  const events = req.method === "GET" ? /^\/events\?bytes=(\d+)$/.exec(req.url ?? "") : null;
  if (events) return streamEvents(res, Number(events[1]));
  if (req.method !== "POST" || req.url !== "/fanout") {
    res.writeHead(404).end();
    return;
  }
  const sockets = [...registered];
  fanout = { remaining: sockets.length, done: () => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ total: sockets.length })) };
  let n = 0;
  for (const ws of sockets) ws.send(JSON.stringify({ type: "directive", id: `d-${n++}`, sessionId: "s", action: "bash", params: { command: "echo ok" }, stream: true }));
  if (sockets.length === 0) fanout.done();
});

const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("close", () => registered.delete(ws));
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === PING_FRAME) return ws.send(PONG_FRAME);
    if (text.startsWith("echo:")) return ws.send(text);
    if (text.startsWith("stream:")) return stream(ws, Number(text.slice(7)));
    const message = JSON.parse(text) as { type: string; agentId?: string };
    switch (message.type) {
      case "register":
        registered.add(ws);
        return ws.send(JSON.stringify({ type: "registered", agentId: message.agentId }));
      case "heartbeat":
        return ws.send(JSON.stringify({ type: "heartbeat_ack", agentId: message.agentId }));
      case "result":
        if (fanout && --fanout.remaining === 0) {
          fanout.done();
          fanout = null;
        }
    }
  });
});

function stream(ws: WebSocket, bytes: number): void {
  const piece = "x".repeat(MAX_CHUNK_BYTES - 1) + "\n";
  for (let sent = 0; sent < bytes; sent += piece.length) ws.send(piece);
  ws.send("end");
}

/** One write per 15 events, like the site object's writes per node frame; waits for the socket when it is full. */
function streamEvents(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { "Content-Type": "text/event-stream" });
  const piece = "x".repeat(MAX_CHUNK_BYTES - 1) + "\n";
  let seq = 0;
  const write = (): void => {
    while (seq * piece.length < bytes) {
      let text = "";
      for (let i = 0; i < 15 && seq * piece.length < bytes; i++) {
        const event: DirectiveEvent = { event: "chunk", directiveId: "d-baseline", nodeId: "baseline", seq: seq++, chunk: piece, stream: "stdout" };
        text += `data: ${JSON.stringify(event)}\n\n`;
      }
      if (!res.write(text)) return void res.once("drain", write);
    }
    res.end();
  };
  write();
}

http.listen(0, "127.0.0.1", () => {
  const address = http.address();
  process.stdout.write(`${typeof address === "object" && address ? address.port : 0}\n`);
});
