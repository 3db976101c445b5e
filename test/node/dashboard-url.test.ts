import { describe, expect, it } from "vitest";
import { dashboardUrl } from "../../scripts/dev/dashboard-url.ts";

describe("the address npm start prints", () => {
  it("is localhost for a hub on loopback or on every address, since passkeys refuse IP addresses", () => {
    for (const host of ["127.0.0.1", "127.0.1.1", "0.0.0.0", "::1", "[::1]", "::", "localhost"]) {
      expect(dashboardUrl(host, 8787), host).toBe("http://localhost:8787");
    }
  });

  it("keeps a particular host as it is, bracketing an IPv6 address", () => {
    expect(dashboardUrl("hub.lan", 9000)).toBe("http://hub.lan:9000");
    expect(dashboardUrl("192.168.1.20", 9000)).toBe("http://192.168.1.20:9000");
    expect(dashboardUrl("fd00::5", 9000)).toBe("http://[fd00::5]:9000");
  });
});
