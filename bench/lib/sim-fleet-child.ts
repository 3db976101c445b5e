import type { FleetReply, FleetRequest } from "./sim-fleet-processes.ts";
import { closeAll, connectSimNodes } from "./sim-fleet.ts";
import { RoundTrips, type SimNode } from "./sim-node.ts";
import { elapsedMs } from "./stats.ts";

/**
 * One client process of a large simulated fleet (started by FleetProcesses over IPC): it holds its share of the
 * nodes' sockets, so no process comes near the descriptor limit, and answers the parent's requests one at a time.
 */
const trips = new RoundTrips();
const nodes: SimNode[] = [];

function reply(message: FleetReply): void {
  process.send!(message);
}

async function handle(request: FleetRequest): Promise<FleetReply> {
  switch (request.type) {
    case "connect": {
      const start = process.hrtime.bigint();
      const errors: string[] = [];
      const opened = await connectSimNodes(request.creds, { url: request.url, heartbeatMs: request.heartbeatMs, trips, concurrency: request.concurrency, tolerant: (e) => errors.push(e.message) });
      nodes.push(...opened);
      return { type: "connected", id: request.id, opened: opened.map((n) => n.nodeId), failed: errors.length, firstError: errors[0] ?? null, ms: elapsedMs(start) };
    }
    case "record":
      trips.recording = request.on;
      if (request.on) {
        trips.heartbeats.length = 0;
        trips.pings.length = 0;
      }
      return { type: "trips", id: request.id, heartbeats: trips.heartbeats, pings: trips.pings };
    case "status":
    {
      const closed: Record<string, number> = {};
      for (const n of nodes) if (n.closeCode !== null) closed[n.closeCode] = (closed[n.closeCode] ?? 0) + 1;
      return { type: "status", id: request.id, open: nodes.filter((n) => n.open).length, answered: nodes.reduce((sum, n) => sum + n.directivesAnswered, 0), closed };
    }
    case "close":
      closeAll(nodes);
      nodes.length = 0;
      return { type: "closed", id: request.id };
  }
}

process.on("message", (request: FleetRequest) => {
  handle(request).then(reply, (error: Error) => reply({ type: "failed", id: request.id, message: error.message }));
});
// The parent going away (a crash, ^C) must not leave thousands of sockets open behind it.
process.on("disconnect", () => {
  closeAll(nodes);
  process.exit(0);
});
