import { afterEach, describe, expect, it } from "vitest";
import type { DirectiveRequest } from "../../protocol/api.ts";
import { TOOL_NAMES } from "../../protocol/tools/index.ts";
import { directiveView, sendJson, startFakeHub, type FakeHub } from "./cli-fake-hub.ts";
import { runCli } from "./cli-run.ts";

const PATH = "/api/sites/default/nodes/web-3/directives";
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function cortex(argv: string[]) {
  hub ??= await startFakeHub({
    [`POST ${PATH}`]: (req, res) => {
      const body = req.body as DirectiveRequest;
      sendJson(res, 200, directiveView({ action: body.action, params: body.params, output: '{"unit":"nginx.service","active":"active"}' }));
    },
  });
  return runCli(["--hub", hub.url, "--api-key", "k", ...argv]);
}

describe("cortex tools and cortex tool", () => {
  it("lists every tool in the catalog with its tier", async () => {
    const r = await cortex(["tools"]);
    expect(r.code).toBe(0);
    for (const name of TOOL_NAMES) expect(r.stdout).toContain(name);
    expect(r.stdout).toMatch(/get_service_status\s+│ 1\s+│ agent: service\.status/);
    expect(r.stdout).toMatch(/list_machines\s+│ 1\s+│ hub/);
    const asJson = JSON.parse((await cortex(["tools", "--json"])).stdout) as { name: string; tier: number }[];
    expect(asJson.find((t) => t.name === "reboot_machine")?.tier).toBe(3);
  });

  it("runs an agent-side tool as its directive, with the model's input mapped to the action's params", async () => {
    const r = await cortex(["tool", "get_service_status", "web-3", '{"unit":"nginx"}']);
    expect(r).toMatchObject({ code: 0, stdout: '{"unit":"nginx.service","active":"active"}\n' });
    expect(hub!.requests.at(-1)!.body).toEqual({ action: "service.status", params: { unit: "nginx" } });
    await cortex(["tool", "run_command", "web-3", '{"command":"uptime","timeoutSeconds":5}']);
    expect(hub!.requests.at(-1)!.body).toEqual({ action: "bash", params: { command: "uptime", timeoutMs: 5000, login: true } });
  });

  it("refuses unknown tools, hub tools and bad input before sending anything", async () => {
    for (const [argv, message] of [
      [["tool", "format_disk", "web-3"], 'there is no tool named "format_disk"'],
      [["tool", "list_machines", "web-3"], "answered by the hub inside a chat"],
      [["tool", "get_logs", "web-3", '{"file":"/etc/shadow"}'], "file: file must be under /var/log"],
      [["tool", "get_logs", "web-3", "{not json"], "must be a JSON object"],
      [["tool", "manage_service", "web-3", '{"unit":"--help","operation":"stop"}'], "unit name must be"],
    ] as const) {
      const r = await cortex([...argv]);
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.stderr).toContain(message);
    }
    expect(hub!.requests.filter((q) => q.method === "POST")).toHaveLength(0);
  });
});
