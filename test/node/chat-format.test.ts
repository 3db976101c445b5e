import { describe, expect, it } from "vitest";
import { decisionText, hiddenInInput, parameterText, toolTargetText } from "../../web/src/chat/chat-format.ts";

/** How the dashboard's tool call cards word where a call runs and who decided it. */

const names: Record<string, string> = { "web-1": "web-1.example" };
const nameOf = (id: string) => names[id] ?? id;

describe("a tool call card's words", () => {
  it("names the machine, the count of machines or the hub", () => {
    expect(toolTargetText({ node: "web-1" }, nameOf)).toBe("on web-1.example");
    expect(toolTargetText({ node: "gone-7" }, nameOf)).toBe("on gone-7");
    expect(toolTargetText({ all: true, machines: 1 }, nameOf)).toBe("on all 1 online machine");
    expect(toolTargetText({ all: true, machines: 40 }, nameOf)).toBe("on all 40 online machines");
    expect(toolTargetText({ all: true, machines: null }, nameOf)).toBe("on every online machine");
    expect(toolTargetText({ hub: true }, nameOf)).toBe("in the hub");
  });

  it("says who decided a tier-3 call, and that an expired one counts as denied without naming a decider", () => {
    expect(decisionText({ status: "approved", decidedBy: "ada@example.com" }, "12:00:00")).toBe("Approved by ada@example.com at 12:00:00");
    expect(decisionText({ status: "done", decidedBy: "ada@example.com" }, null)).toBe("Approved by ada@example.com");
    expect(decisionText({ status: "denied", decidedBy: "max@example.com" }, "12:01:00")).toBe("Denied by max@example.com at 12:01:00");
    expect(decisionText({ status: "expired", decidedBy: "nobody (expired)" }, "12:10:00")).toBe("Counted as denied: nobody decided by 12:10:00");
    expect(decisionText({ status: "expired", decidedBy: null }, null)).toBe("Counted as denied: nobody decided in time");
    expect(decisionText({ status: "done", decidedBy: null }, null)).toBeNull();
  });

  it("shows a parameter's exact value with every disguising character visible, in strings and in JSON", () => {
    expect(parameterText("systemctl restart nginx")).toEqual({ text: "systemctl restart nginx", hidden: 0 });
    expect(parameterText("rm -rf /\u202e pmt/")).toEqual({ text: "rm -rf /⟨U+202E⟩ pmt/", hidden: 1 });
    expect(parameterText(["a\u200bb"]).text).toBe('[\n  "a⟨U+200B⟩b"\n]');
    expect(hiddenInInput({ command: "echo ok\rrm -rf /", "pa\u2066th": "/tmp", lines: 5 })).toBe(2);
    expect(hiddenInInput({ command: "ls -la" })).toBe(0);
  });
});

