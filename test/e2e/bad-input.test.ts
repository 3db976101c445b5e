import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../protocol/api.ts";
import { MAX_API_BODY_BYTES } from "../../protocol/limits.ts";
import { Fleet } from "../support/fleet.ts";
import type { RawResponse } from "../support/hub-api.ts";

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.start();
  await fleet.connectedNode("steady", "sudo");
});

afterAll(async () => {
  await fleet?.close();
});

/** Everything a bad request could have changed: nodes, directives and the node and directive activity. */
async function snapshot() {
  const { api } = fleet;
  return {
    nodes: (await api.nodes()).map(({ lastHeartbeatAt: _h, metrics: _m, ...rest }) => rest),
    directives: (await api.directives({ limit: 500 })).directives,
    nodeActivity: (await api.activity({ kind: "node", limit: 500 })).entries,
    directiveActivity: (await api.activity({ kind: "directive", limit: 500 })).entries,
  };
}

function expectError(res: RawResponse, status: number, code: string): ApiError {
  expect(res.status, res.text).toBe(status);
  const body = ApiError.parse(res.json);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

describe("bad input through the real hub", () => {
  it("answers malformed JSON, bodies of the wrong shape and invalid params with a clear 400 and changes nothing", async () => {
    const { api } = fleet;
    const before = await snapshot();

    expectError(await api.raw("POST", api.sitePath("/nodes"), { body: '{"name": "half', headers: JSON_HEADERS }), 400, "invalid_json");
    const shape = expectError(await api.raw("POST", api.sitePath("/nodes"), { body: JSON.stringify({ name: "x", tier: "god" }), headers: JSON_HEADERS }), 400, "invalid_body");
    expect(shape.error.issues?.map((i) => i.path)).toContain("tier");
    expectError(await api.raw("POST", api.sitePath("/nodes/steady/directives"), { body: "not json at all", headers: JSON_HEADERS }), 400, "invalid_json");
    const params = expectError(
      await api.raw("POST", api.sitePath("/nodes/steady/directives"), { body: JSON.stringify({ action: "read", params: { path: "relative/path" } }), headers: JSON_HEADERS }),
      400,
      "invalid_params",
    );
    expect(params.error.message).toContain("path");
    expectError(await api.raw("POST", api.sitePath("/fanouts"), { body: JSON.stringify({ action: "bash", params: { command: "true" }, target: { nodes: [] } }), headers: JSON_HEADERS }), 400, "invalid_body");
    expectError(await api.raw("GET", api.sitePath("/activity?limit=100000")), 400, "invalid_query");

    expect(await snapshot()).toEqual(before);
  });

  it("refuses a body over the size limit with 413 before reading it, and changes nothing", async () => {
    const { api } = fleet;
    const before = await snapshot();
    const huge = JSON.stringify({ action: "bash", params: { command: `echo ${"x".repeat(MAX_API_BODY_BYTES)}` } });
    expectError(await api.raw("POST", api.sitePath("/nodes/steady/directives"), { body: huge, headers: JSON_HEADERS }), 413, "body_too_large");
    expectError(await api.raw("POST", api.sitePath("/nodes"), { body: JSON.stringify({ name: "y".repeat(MAX_API_BODY_BYTES + 1) }), headers: JSON_HEADERS }), 413, "body_too_large");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a missing or wrong API key with 401 on every kind of route, and changes nothing", async () => {
    const { api } = fleet;
    const before = await snapshot();
    const wrong = { Authorization: "Bearer cx_wrong_key_0123456789abcdef0123456789abcdef" };
    const attempts: [string, string, string | undefined][] = [
      ["GET", "/nodes", undefined],
      ["POST", "/nodes", JSON.stringify({ name: "intruder" })],
      ["DELETE", "/nodes/steady", undefined],
      ["POST", "/nodes/steady/rekey", undefined],
      ["POST", "/nodes/steady/directives", JSON.stringify({ action: "bash", params: { command: "touch /tmp/should-not-exist" } })],
    ];
    for (const [method, path, body] of attempts) {
      expectError(await api.raw(method, api.sitePath(path), { body, headers: { ...JSON_HEADERS, ...wrong } }), 401, "invalid_api_key");
      const anonymous = await fetch(fleet.hub.url + api.sitePath(path), { method, body, headers: JSON_HEADERS });
      expectError({ status: anonymous.status, text: "", json: await anonymous.json() }, 401, "unauthorized");
    }
    expect(await snapshot()).toEqual(before);
    expect((await api.node("steady")).status).toBe("connected");
  });

  it("makes the CLI with a wrong key exit non-zero with the hub's reason, never echoing the key", async () => {
    const key = "cx_wrong_key_for_the_cli_0123456789abcdef";
    const proc = fleet.cortex.spawn(["--api-key", key, "node", "list"]);
    const exit = await proc.waitForExit(30_000);
    expect(exit.code).not.toBe(0);
    expect(proc.stderr).toMatch(/401|invalid API key/);
    expect(proc.stdout + proc.stderr).not.toContain(key);
  });
});
