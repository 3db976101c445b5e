import { afterEach, describe, expect, it, vi } from "vitest";
import type * as Directives from "../../protocol/directives.ts";
import { MAX_WRITE_BYTES } from "../../protocol/limits.ts";
import { prepareToolCall } from "../../protocol/tools/offer.ts";
import { directive, executor, FakeHub, isolateHome, cleanUp, run } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

/** A fresh copy of the protocol module, whose action schemas no call has built yet. */
async function freshDirectives(): Promise<typeof Directives> {
  vi.resetModules();
  return import("../../protocol/directives.ts");
}

/** Untrusted calls every action's schema must refuse, and where it must say the problem is. */
const BAD_CALLS: { what: string; call: { action: unknown; params: unknown }; path: string }[] = [
  { what: "an unknown action", call: { action: "format_disk", params: {} }, path: "action" },
  { what: "an action that is not a string", call: { action: 42, params: {} }, path: "action" },
  { what: "params that are not an object", call: { action: "read", params: "/etc/hostname" }, path: "params" },
  { what: "a path of the wrong type", call: { action: "read", params: { path: 7 } }, path: "params.path" },
  { what: "a relative path", call: { action: "read", params: { path: "etc/hostname" } }, path: "params.path" },
  { what: "a login flag that is not a boolean", call: { action: "bash", params: { command: "id", login: "no" } }, path: "params.login" },
  { what: "an oversize command", call: { action: "bash", params: { command: "x".repeat(64 * 1024 + 1) } }, path: "params.command" },
  { what: "an oversize file content", call: { action: "write", params: { path: "/tmp/x", content: "x".repeat(MAX_WRITE_BYTES + 1) } }, path: "params.content" },
  { what: "a timeout over the maximum", call: { action: "bash", params: { command: "id", timeoutMs: 10 ** 12 } }, path: "params.timeoutMs" },
  { what: "a negative limit", call: { action: "process.list", params: { limit: -1 } }, path: "params.limit" },
  { what: "a unit the agent must never stop", call: { action: "service.manage", params: { unit: "sshd", operation: "stop" } }, path: "params.unit" },
];

describe("action schemas built on first use", () => {
  it("refuse bad input on the first use of each action's schema and on every later use alike", async () => {
    const { parseActionCall } = await freshDirectives();
    for (const round of ["first use", "later use"]) {
      for (const { what, call, path } of BAD_CALLS) {
        const parsed = parseActionCall(call);
        expect(parsed.success, `${what} (${round})`).toBe(false);
        expect(parsed.error!.issues.map((issue) => issue.path.join(".")), `${what} (${round})`).toContain(path);
      }
    }
  });

  it("accept a valid call on first and later use, with the defaults filled in and unknown keys dropped", async () => {
    const { parseActionCall } = await freshDirectives();
    for (const round of ["first use", "later use"]) {
      const parsed = parseActionCall({ action: "read", params: { path: "/etc/hostname", extra: true } });
      expect(parsed, round).toEqual({ success: true, data: { action: "read", params: { path: "/etc/hostname", offset: 1, limit: 2_000 } } });
    }
    expect(parseActionCall({ action: "bash", params: { command: "id" } }).data).toEqual({ action: "bash", params: { command: "id", timeoutMs: expect.any(Number), login: true } });
  });

  it("build an action's schema once and keep it", async () => {
    const { ACTION_PARAMS, ActionName } = await freshDirectives();
    for (const action of ActionName.options) expect(ACTION_PARAMS[action](), action).toBe(ACTION_PARAMS[action]());
  });

  it("still refuse every action's params when they are not an object, whichever action is asked first", async () => {
    const { parseActionCall, ActionName } = await freshDirectives();
    for (const action of [...ActionName.options].reverse()) {
      expect(parseActionCall({ action, params: null }).success, action).toBe(false);
      expect(parseActionCall({ action, params: [] }).success, action).toBe(false);
    }
  });
});

describe("a model's tool call, checked with the action's schema built on demand", () => {
  it("refuses an unknown tool, wrong types and oversize values, the first time and the next", () => {
    for (const round of ["first use", "later use"]) {
      expect(prepareToolCall("format_disk", {}, { riskCap: 3 }), round).toMatchObject({ ok: false, code: "unknown_tool" });
      expect(prepareToolCall("read_file", { path: 7 }, { riskCap: 3 }), round).toMatchObject({ ok: false, code: "invalid_input" });
      expect(prepareToolCall("run_command", { command: "x".repeat(64 * 1024 + 1) }, { riskCap: 3 }), round).toMatchObject({ ok: false, code: "invalid_input" });
      expect(prepareToolCall("read_file", { path: "/etc/hostname" }, { riskCap: 3 }), round).toMatchObject({ ok: true, run: { on: "agent", call: { action: "read" } } });
    }
  });
});

describe("the agent, whose executor builds an action's schema with its first directive", () => {
  it("answers invalid_params for an unknown action, wrong types and oversize values, first and later", async () => {
    const hub = new FakeHub();
    const agent = executor();
    for (const round of ["first use", "later use"]) {
      const unknown = await run(agent, hub, directive("format_disk" as "bash", {}));
      expect(unknown, round).toMatchObject({ success: false, errorCode: "invalid_params" });
      const wrongType = await run(agent, hub, directive("read", { path: 7 }));
      expect(wrongType, round).toMatchObject({ success: false, errorCode: "invalid_params" });
      expect(wrongType.error, round).toContain("path");
      const oversize = await run(agent, hub, directive("write", { path: "/tmp/never-written", content: "x".repeat(MAX_WRITE_BYTES + 1) }));
      expect(oversize, round).toMatchObject({ success: false, errorCode: "invalid_params" });
      const fine = await run(agent, hub, directive("bash", { command: "echo ok", login: false }));
      expect(fine, round).toMatchObject({ success: true, output: "ok\n" });
    }
  });
});
