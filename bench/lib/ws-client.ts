import WebSocket from "ws";

/** A plain `ws` client to the baseline server, for the raw round-trip and throughput baselines. */
export function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** Sends `text` and resolves with the round trip in ms when the next frame comes back. */
export function roundTrip(ws: WebSocket, text: string): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    ws.once("message", () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
    ws.send(text);
  });
}
