import { describe, expect, it } from "vitest";
import { isLoopbackWebhook, webhookUrlProblem } from "../../protocol/webhook-url.ts";

describe("escalation webhook URLs", () => {
  it.each([
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "https://example.com:8443/hook?token=abc",
    "https://8.8.8.8/hook",
    "https://[2606:4700::1111]/hook",
    "https://hooks.example.com./hook",
    "https://[64:ff9b::808:808]/hook",
    "https://[2002:808:808::]/hook",
    "http://127.0.0.1:9999/hook",
    "http://localhost/hook",
    "http://[::1]:8080/hook",
  ])("accepts %s", (url) => {
    expect(webhookUrlProblem(url)).toBeNull();
  });

  it.each([
    ["not a URL", "hooks.slack.com/x", "not a URL"],
    ["plain http to a public host", "http://hooks.slack.com/x", "must use https"],
    ["another scheme", "ftp://example.com/x", "must use https"],
    ["credentials", "https://u:p@example.com/x", "user name or password"],
    ["a private network", "https://192.168.1.10/x", "public host"],
    ["10/8", "https://10.0.0.1/x", "public host"],
    ["172.16/12", "https://172.20.1.1/x", "public host"],
    ["CGNAT", "https://100.64.0.1/x", "public host"],
    ["link-local (cloud metadata)", "https://169.254.169.254/x", "public host"],
    ["this network", "https://0.0.0.0/x", "public host"],
    ["loopback over https", "https://127.0.0.2/x", "public host"],
    ["a decimal loopback", "https://2130706433/x", "public host"],
    ["a hex private address", "https://0xa000001/x", "public host"],
    ["multicast", "https://224.0.0.1/x", "public host"],
    ["IPv6 loopback over https", "https://[::1]/x", "public host"],
    ["IPv6 unique local", "https://[fc12::1]/x", "public host"],
    ["IPv6 link-local", "https://[fe80::1]/x", "public host"],
    ["IPv4-mapped private", "https://[::ffff:10.0.0.1]/x", "public host"],
    ["localhost over https", "https://localhost/x", "public host"],
    ["a .localhost name", "http://evil.localhost.example.com/x", "must use https"],
    ["a .local name", "https://printer.local/x", "public host"],
    ["a .internal name", "https://metadata.google.internal/x", "public host"],
    ["plain http to a mapped loopback", "http://[::ffff:127.0.0.1]/x", "must use https"],
    ["localhost with a final dot", "https://localhost./x", "public host"],
    ["a .internal name with a final dot", "https://metadata.google.internal./x", "public host"],
    ["a .local name with a final dot", "https://foo.local./x", "public host"],
    ["a .home.arpa name with a final dot", "https://x.home.arpa./x", "public host"],
    ["a name of one label", "https://metadata/computeMetadata/v1/", "public host"],
    ["a name of one label with a final dot", "https://intranet./x", "public host"],
    ["NAT64 of link-local", "https://[64:ff9b::a9fe:a9fe]/x", "public host"],
    ["NAT64 local use", "https://[64:ff9b:1::1]/x", "public host"],
    ["6to4 of link-local", "https://[2002:a9fe:a9fe::]/x", "public host"],
    ["6to4 of 10/8", "https://[2002:a00:1::1]/x", "public host"],
    ["IPv4-compatible private", "https://[::a00:1]/x", "public host"],
  ])("refuses %s", (_what, url, problem) => {
    expect(webhookUrlProblem(url)).toContain(problem);
  });

  it("tells loopback from the rest", () => {
    expect(isLoopbackWebhook("http://127.0.0.1:1/x")).toBe(true);
    expect(isLoopbackWebhook("http://localhost/x")).toBe(true);
    expect(isLoopbackWebhook("https://hooks.slack.com/x")).toBe(false);
  });
});
