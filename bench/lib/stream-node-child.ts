import { RoundTrips, SimNode, type SimNodeOptions } from "./sim-node.ts";

/**
 * The simulated node of the streaming bench in a process of its own, as an agent is: the API client's process then
 * does only what an SSE client does. Connects with the options in argv[2], says `ready`, answers `cpu` with its CPU
 * milliseconds so far, and closes when the parent disconnects.
 */
export type StreamNodeReply = { type: "ready" } | { type: "cpu"; ms: number } | { type: "failed"; message: string };

const options = JSON.parse(process.argv[2]!) as Omit<SimNodeOptions, "trips">;
const send = (reply: StreamNodeReply) => process.send!(reply);

SimNode.connect({ ...options, trips: new RoundTrips() }).then(
  (node) => {
    process.on("message", () => {
      const cpu = process.cpuUsage();
      send({ type: "cpu", ms: (cpu.user + cpu.system) / 1000 });
    });
    process.on("disconnect", () => {
      node.close();
      process.exit(0);
    });
    send({ type: "ready" });
  },
  (error: Error) => send({ type: "failed", message: error.message }),
);
