import { describe, expect, it } from "vitest";
import { agentUpdateAvailable, installCommand } from "../../protocol/agent-release.ts";

describe("agentUpdateAvailable", () => {
  const served = "0.4.2+aaaaaaaaaaaa";

  it("flags an older package version, or the same one from another build", () => {
    expect(agentUpdateAvailable("0.4.1+aaaaaaaaaaaa", served)).toBe(true);
    expect(agentUpdateAvailable("0.3.9+bbbbbbbbbbbb", served)).toBe(true);
    expect(agentUpdateAvailable("0.4.2+bbbbbbbbbbbb", served)).toBe(true);
    expect(agentUpdateAvailable("0.4.2", served)).toBe(true);
  });

  it("does not flag the served build, a newer one, a checkout's, or a version it cannot read", () => {
    expect(agentUpdateAvailable(served, served)).toBe(false);
    expect(agentUpdateAvailable("0.4.10+bbbbbbbbbbbb", served)).toBe(false);
    expect(agentUpdateAvailable("1.0.0+bbbbbbbbbbbb", served)).toBe(false);
    expect(agentUpdateAvailable("0.1.0+source", served)).toBe(false);
    expect(agentUpdateAvailable(null, served)).toBe(false);
    expect(agentUpdateAvailable("nightly", served)).toBe(false);
    expect(agentUpdateAvailable("0.4.1+aaaaaaaaaaaa", "garbage")).toBe(false);
  });
});

describe("installCommand", () => {
  it("names the install script and the site on the same hub, and the tier, and no token", () => {
    expect(installCommand("https://hub.example.com/", "prod", "sudo")).toBe(
      "curl -fsSL https://hub.example.com/install.sh | sudo sh -s -- --endpoint https://hub.example.com/api/sites/prod --tier sudo",
    );
  });
});
