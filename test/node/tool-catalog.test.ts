import { describe, expect, it } from "vitest";
import { ACTION_RISK, type RiskTier } from "../../protocol/action-risk.ts";
import { ActionName, parseActionCall } from "../../protocol/directives.ts";
import {
  HUB_TOOL_INPUTS,
  PROVIDER_SCHEMA_KEYWORDS,
  TOOL_CATALOG,
  TOOL_NAMES,
  anthropicTools,
  findTool,
  needsConfirmation,
  openAiTools,
  prepareToolCall,
  toolInputSchema,
  toolTier,
  toolsToOffer,
  type JsonSchema,
  type Tool,
} from "../../protocol/tools/index.ts";

const tools: Tool[] = TOOL_NAMES.map((name) => TOOL_CATALOG[name]);
const ADMIN = { riskCap: 3 } as const;

/** The tools the issue promises, by tier, in the order they are offered. */
const TIER_1 = [
  "get_system_info",
  "get_running_processes",
  "get_disk_usage",
  "get_network_info",
  "get_service_status",
  "get_logs",
  "get_agent_health",
  "get_site_logs",
  "list_machines",
  "get_process_list",
  "get_process_logs",
];
const TIER_2 = ["start_process", "stop_process", "restart_process", "set_launch_mode", "manage_service", "signal_processes", "clean_disk_space"];
// A new command line is as strong as a shell: adding, changing and removing supervised processes asks a person first.
const TIER_3 = ["add_process", "update_process", "delete_process", "run_command", "read_file", "list_directory", "write_file", "reboot_machine", "shutdown_machine", "cancel_shutdown"];

/** Every keyword used anywhere in a schema, walking nested property and item schemas. */
function keywordsOf(schema: JsonSchema, found = new Set<string>()): Set<string> {
  for (const [key, value] of Object.entries(schema)) {
    found.add(key);
    if (key === "properties") for (const child of Object.values(value as Record<string, JsonSchema>)) keywordsOf(child, found);
    if (key === "items") keywordsOf(value as JsonSchema, found);
  }
  return found;
}

describe("the tool catalog", () => {
  it("holds the tools the chat promises, each under its own name", () => {
    expect(TOOL_NAMES).toEqual([...TIER_1, ...TIER_2, ...TIER_3]);
    for (const name of TOOL_NAMES) expect(TOOL_CATALOG[name].name).toBe(name);
  });

  it("maps every tool to an existing action or a hub handler", () => {
    for (const tool of tools) {
      if (tool.runs.on === "agent") expect(ActionName.options, tool.name).toContain(tool.runs.action);
      else expect(Object.keys(HUB_TOOL_INPUTS), tool.name).toContain(tool.runs.handler);
    }
    const handlers = tools.flatMap((t) => (t.runs.on === "hub" ? [t.runs.handler] : []));
    expect(handlers.sort()).toEqual(Object.keys(HUB_TOOL_INPUTS).sort());
  });

  it("reuses the existing actions for the shell and file tools", () => {
    const actionOf = (name: keyof typeof TOOL_CATALOG) => {
      const runs = TOOL_CATALOG[name].runs;
      return runs.on === "agent" ? runs.action : null;
    };
    expect([actionOf("run_command"), actionOf("read_file"), actionOf("write_file")]).toEqual(["bash", "read", "write"]);
  });

  it("gives every tool a tier, never below the risk of the action behind it", () => {
    for (const tool of tools) {
      expect(tool.tier, tool.name).toBeDefined();
      if (tool.runs.on === "agent") expect(toolTier(tool), tool.name).toBeGreaterThanOrEqual(ACTION_RISK[tool.runs.action]);
    }
  });

  it("treats a tool without a tier as tier 3, which asks first", () => {
    expect(toolTier({})).toBe(3);
    expect(needsConfirmation({})).toBe(true);
    expect(needsConfirmation({ tier: 2 })).toBe(false);
  });

  it("places each tool at the tier the chat documents", () => {
    const byTier = (tier: RiskTier) => tools.filter((t) => toolTier(t) === tier).map((t) => t.name);
    expect([byTier(1), byTier(2), byTier(3)]).toEqual([TIER_1, TIER_2, TIER_3]);
  });

  it("has examples that parse and become valid directives or hub calls", () => {
    for (const tool of tools) {
      const prepared = prepareToolCall(tool.name, tool.example, ADMIN);
      expect(prepared, tool.name).toMatchObject({ ok: true });
      if (prepared.ok && prepared.run.on === "agent") {
        expect(parseActionCall(prepared.run.call).success, tool.name).toBe(true);
        expect(prepared.run.call.action).toBe(tool.runs.on === "agent" ? tool.runs.action : null);
      }
    }
  });

  it("maps tool input to action params where the names differ", () => {
    const bash = prepareToolCall("run_command", { command: "uptime", timeoutSeconds: 7 }, ADMIN);
    expect(bash).toMatchObject({ ok: true, run: { on: "agent", call: { action: "bash", params: { command: "uptime", timeoutMs: 7000, login: true } } } });
    const plain = prepareToolCall("run_command", { command: "uptime", loginShell: false }, ADMIN);
    expect(plain).toMatchObject({ ok: true, run: { call: { action: "bash", params: { command: "uptime", login: false } } } });
    const write = prepareToolCall("write_file", { path: "/tmp/x", content: "hi" }, ADMIN);
    expect(write).toMatchObject({ ok: true, run: { call: { action: "write", params: { path: "/tmp/x", content: "hi", encoding: "utf8" } } } });
    const logs = prepareToolCall("get_site_logs", { level: "warn" }, ADMIN);
    expect(logs).toEqual({ ok: true, tool: TOOL_CATALOG.get_site_logs, tier: 1, run: { on: "hub", handler: "site_logs", input: { level: "warn", limit: 50 } } });
  });
});

describe("offering tools under a cap", () => {
  it("never offers a tool above the caller's cap", () => {
    for (const cap of [1, 2, 3] as const) {
      const offered = toolsToOffer({ riskCap: cap });
      expect(offered.every((t) => toolTier(t) <= cap)).toBe(true);
      expect(offered.length).toBe(tools.filter((t) => toolTier(t) <= cap).length);
    }
    expect(toolsToOffer({ riskCap: 1 }).map((t) => t.name)).not.toContain("run_command");
  });

  it("applies an autonomous run's max tier on top of the caller's cap", () => {
    expect(toolsToOffer({ riskCap: 3, maxTier: 2 }).some((t) => toolTier(t) === 3)).toBe(false);
    expect(toolsToOffer({ riskCap: 1, maxTier: 3 }).every((t) => toolTier(t) === 1)).toBe(true);
    expect(toolsToOffer({ riskCap: 3, maxTier: 2 }).map((t) => t.name)).toContain("manage_service");
  });

  it("refuses a tool that was not offered, even when the model names it", () => {
    const refused = prepareToolCall("run_command", { command: "id" }, { riskCap: 1 });
    expect(refused).toMatchObject({ ok: false, code: "not_offered" });
    expect(!refused.ok && refused.message).toContain("not available in this conversation");
    expect(findTool("manage_service", { riskCap: 3, maxTier: 1 })).toMatchObject({ ok: false, code: "not_offered" });
    expect(findTool("get_logs", { riskCap: 1 })).toMatchObject({ ok: true });
  });

  it("refuses names outside the catalog, including inherited object properties", () => {
    for (const name of ["rm_rf", "constructor", "__proto__", "toString", "hasOwnProperty", "", "get_logs ", "GET_LOGS"]) {
      expect(findTool(name, ADMIN), name).toMatchObject({ ok: false, code: "unknown_tool" });
    }
    const long = findTool("x".repeat(10_000), ADMIN);
    expect(!long.ok && long.message.length).toBeLessThan(200);
  });
});

describe("tool input validation", () => {
  const refusedInput = (name: string, input: unknown) => {
    const prepared = prepareToolCall(name, input, ADMIN);
    expect(prepared, JSON.stringify(input)).toMatchObject({ ok: false, code: "invalid_input" });
    return prepared.ok ? "" : prepared.message;
  };

  it("refuses unit names that could become options, paths or shell words", () => {
    for (const unit of ["--help", "-x", "../x", "a;b", "a b", "nginx*", "a/b", ".hidden", "a@b@c", "x\n", "$(id)", "a\\x2d", "`id`", "x".repeat(300)]) {
      refusedInput("get_service_status", { unit });
      refusedInput("manage_service", { unit, operation: "restart" });
      refusedInput("get_logs", { unit });
    }
  });

  it("refuses to manage protected units and units that are not services", () => {
    for (const unit of ["sshd", "ssh.service", "systemd-journald", "systemd-reboot.service", "dbus", "getty@tty1", "reboot.target", "poweroff.target", "tmp.mount", "boot-efi.automount", "system.slice", "user@0.service", "emergency", "init.scope"]) {
      expect(refusedInput("manage_service", { unit, operation: "restart" }), unit).toMatch(/protected|only .service/);
    }
    expect(refusedInput("manage_service", { unit: "NetworkManager", operation: "stop" })).toContain("not stopped");
    expect(prepareToolCall("manage_service", { unit: "NetworkManager", operation: "restart" }, ADMIN)).toMatchObject({ ok: true });
    expect(prepareToolCall("manage_service", { unit: "php8.2-fpm", operation: "restart" }, ADMIN)).toMatchObject({ ok: true });
  });

  it("refuses log files outside /var/log, however the path is spelled", () => {
    for (const file of ["/etc/shadow", "/var/log/../../etc/shadow", "/var/logs/x", "/var/log", "relative/x.log", "/var/log/x\u0000"]) {
      refusedInput("get_logs", { file });
    }
    refusedInput("get_logs", { unit: "nginx", file: "/var/log/syslog" });
    refusedInput("get_logs", { file: "/var/log/syslog", since: "1h" });
    expect(prepareToolCall("get_logs", { file: "/var/log/nginx/error.log", lines: 20 }, ADMIN)).toMatchObject({ ok: true });
  });

  it("refuses huge or negative limits, bad ages and unknown fields", () => {
    refusedInput("get_running_processes", { limit: 1e9 });
    refusedInput("get_running_processes", { limit: -1 });
    refusedInput("get_logs", { lines: 1e6 });
    refusedInput("get_logs", { since: "1 hour; rm -rf /" });
    refusedInput("signal_processes", { pattern: "x", operation: "kill", maxProcesses: 100_000 });
    refusedInput("signal_processes", { pattern: "x", operation: "hangup" });
    refusedInput("signal_processes", { pattern: "", operation: "kill" });
    refusedInput("signal_processes", { pattern: "x".repeat(300), operation: "kill" });
    refusedInput("clean_disk_space", {});
    refusedInput("get_system_info", { extra: true });
    refusedInput("run_command", { command: "id", timeoutSeconds: 100_000 });
    refusedInput("reboot_machine", { message: "--help" });
    refusedInput("reboot_machine", { delayMinutes: -5 });
    refusedInput("get_logs", "not an object");
  });

  it("reports the field and the reason, without the action's internal nesting", () => {
    const message = refusedInput("get_logs", { file: "/etc/passwd" });
    expect(message).toBe("invalid input for get_logs: file: file must be under /var/log");
  });
});

describe("provider tool schemas", () => {
  it("are object schemas at the top, with no combinator there", () => {
    for (const tool of tools) {
      const schema = toolInputSchema(tool);
      expect(schema.type, tool.name).toBe("object");
      expect(typeof schema.properties).toBe("object");
      for (const key of ["anyOf", "oneOf", "allOf", "not", "enum", "$ref", "$defs", "$schema"]) expect(schema, `${tool.name} ${key}`).not.toHaveProperty(key);
      expect(schema.additionalProperties, tool.name).toBe(false);
    }
  });

  it("use only keywords every provider accepts", () => {
    for (const tool of tools) {
      const used = [...keywordsOf(toolInputSchema(tool))];
      const unknown = used.filter((k) => !(PROVIDER_SCHEMA_KEYWORDS as readonly string[]).includes(k));
      expect(unknown, tool.name).toEqual([]);
    }
  });

  it("describe every field to the model and mark only fields without a default as required", () => {
    for (const tool of tools) {
      const schema = toolInputSchema(tool);
      for (const [field, property] of Object.entries(schema.properties)) {
        expect(typeof property.description, `${tool.name}.${field}`).toBe("string");
        if ("default" in property) expect(schema.required ?? [], `${tool.name}.${field}`).not.toContain(field);
      }
    }
    expect(toolInputSchema(TOOL_CATALOG.manage_service).required).toEqual(["unit", "operation"]);
  });

  it("come out in Anthropic's and OpenAI's tool shapes, with names and descriptions both accept", () => {
    const anthropic = anthropicTools(tools);
    const openai = openAiTools(tools);
    expect(anthropic).toHaveLength(tools.length);
    for (const [i, tool] of tools.entries()) {
      expect(Object.keys(anthropic[i]!).sort()).toEqual(["description", "input_schema", "name"]);
      expect(anthropic[i]!.input_schema).toEqual(toolInputSchema(tool));
      expect(openai[i]).toEqual({ type: "function", function: { name: tool.name, description: tool.description, parameters: toolInputSchema(tool) } });
      expect(tool.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
      expect(tool.description.length).toBeGreaterThan(20);
      expect(tool.description.length).toBeLessThanOrEqual(1024);
    }
    expect(JSON.parse(JSON.stringify(anthropic))).toEqual(anthropic);
  });
});
