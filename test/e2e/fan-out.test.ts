import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FanOutAggregate } from "../../protocol/api.ts";
import { Fleet } from "../support/fleet.ts";

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.start();
  // Group g: two sudo nodes that run the command, one that never connects, one whose tier forbids a shell.
  await fleet.connectedNode("fan-alpha", "sudo", { group: "g" });
  await fleet.connectedNode("fb", "sudo", { group: "g" });
  await fleet.register("fan-offline", "sudo", "g");
  await fleet.connectedNode("fan-reader", "unprivileged", { group: "g" });
});

afterAll(async () => {
  await fleet?.close();
});

/** The lines a node contributed to fan-out output, with its prefix taken off. */
function linesOf(stdout: string, name: string): string[] {
  const prefix = new RegExp(`^${name} *\\| `);
  return stdout.split("\n").filter((line) => prefix.test(line)).map((line) => line.replace(prefix, ""));
}

describe("fan-out over several real agents", () => {
  it("runs on a group with one node offline and one refusing: prefixed output per node, correct counts, exit 1", async () => {
    const out = await fleet.cortex.run(["exec", "--group", "g", "--", "echo hello; echo bye"]);
    expect(out.code).toBe(1);
    expect(linesOf(out.stdout, "fan-alpha")).toEqual(["hello", "bye"]);
    expect(linesOf(out.stdout, "fb")).toEqual(["hello", "bye"]);
    // Labels are padded to one width so the columns line up.
    expect(out.stdout.split("\n")).toContain(`${"fb".padEnd("fan-offline".length)} | hello`);
    expect(linesOf(out.stdout, "fan-offline")).toEqual([]);
    expect(linesOf(out.stdout, "fan-reader")).toEqual([]);
    expect(out.stdout.split("\n").filter(Boolean)).toHaveLength(4);
    expect(out.stderr).toContain("4 nodes: 2 succeeded, 1 offline, 1 refused by tier");
    expect(out.stderr).toMatch(/fan-offline.*not connected/);
    expect(out.stderr).toMatch(/fan-reader.*refused.*not allowed at tier unprivileged/);
  });

  it("reports the same aggregate as JSON, one record per node", async () => {
    const out = await fleet.cortex.run(["exec", "--group", "g", "--json", "--", "echo counted"]);
    expect(out.code).toBe(1);
    const body = JSON.parse(out.stdout) as { aggregate: unknown; directives: { nodeId: string; status: string; output: string | null }[] };
    expect(FanOutAggregate.parse(body.aggregate)).toMatchObject({ total: 4, succeeded: 2, failed: 0, offline: 1, refused: 1, cancelled: 0, timedOut: 0, lost: 0 });
    const byNode = Object.fromEntries(body.directives.map((d) => [d.nodeId, d]));
    expect(Object.keys(byNode).sort()).toEqual(["fan-alpha", "fan-offline", "fan-reader", "fb"]);
    expect(byNode["fan-alpha"]).toMatchObject({ status: "done", output: "counted\n" });
    expect(byNode["fan-offline"]!.status).toBe("failed");
    expect(byNode["fan-reader"]!.status).toBe("refused");
  });

  it("targets only connected nodes with --all, counts the offline one apart, and succeeds when every one it ran on does", async () => {
    const all = await fleet.cortex.run(["exec", "--all", "--json", "--", "echo everyone"]);
    expect(FanOutAggregate.parse(JSON.parse(all.stdout).aggregate)).toMatchObject({ total: 3, succeeded: 2, refused: 1, offline: 0, skippedOffline: 1 });
    const summary = await fleet.cortex.run(["exec", "--all", "--", "echo everyone"]);
    expect(summary.stderr).toContain("3 nodes: 2 succeeded, 1 refused by tier; 1 offline node not asked");

    const readable = await fleet.cortex.run(["exec", "fan-alpha,fb", "--", "echo both"]);
    expect(readable.code).toBe(0);
    expect(linesOf(readable.stdout, "fan-alpha")).toEqual(["both"]);
    expect(linesOf(readable.stdout, "fb")).toEqual(["both"]);
    expect(readable.stderr).toContain("2 nodes: 2 succeeded");
  });
});
