import { describe, expect, it } from "vitest";
import { InvalidEndpointError, connectUrl } from "../../agent/connection/endpoint.ts";

describe("connectUrl", () => {
  it.each([
    ["https://hub.example.com", "wss://hub.example.com/api/sites/default/connect"],
    ["https://hub.example.com/", "wss://hub.example.com/api/sites/default/connect"],
    ["http://127.0.0.1:8787", "ws://127.0.0.1:8787/api/sites/default/connect"],
    ["ws://127.0.0.1:8787", "ws://127.0.0.1:8787/api/sites/default/connect"],
    ["wss://hub.example.com", "wss://hub.example.com/api/sites/default/connect"],
    ["https://hub.example.com/api/sites/lab", "wss://hub.example.com/api/sites/lab/connect"],
    ["https://hub.example.com/api/sites/lab/", "wss://hub.example.com/api/sites/lab/connect"],
    ["https://hub.example.com/sites/lab-2", "wss://hub.example.com/api/sites/lab-2/connect"],
    ["https://hub.example.com/api/sites/lab/connect", "wss://hub.example.com/api/sites/lab/connect"],
    ["wss://hub.example.com/api/sites/lab/connect", "wss://hub.example.com/api/sites/lab/connect"],
    ["https://proxy.example.com/cortex/api/sites/lab/connect", "wss://proxy.example.com/cortex/api/sites/lab/connect"],
    ["https://hub.example.com#frag", "wss://hub.example.com/api/sites/default/connect"],
  ])("turns %s into %s", (endpoint, expected) => {
    expect(connectUrl(endpoint)).toBe(expected);
  });

  it.each([
    ["not a url", /not a URL/],
    ["ftp://hub.example.com", /scheme must be http, https, ws or wss/],
    ["file:///tmp/hub", /scheme must be/],
    ["https://hub.example.com/api/sites/Lab", /site id must be/],
    ["https://hub.example.com/api/sites/-lab", /site id must be/],
    ["https://hub.example.com/api/sites/lab/nodes", /path must be empty/],
    ["https://hub.example.com/dashboard", /path must be empty/],
    ["https://hub.example.com/api/sites", /path must be empty/],
  ])("refuses %s with a clear error", (endpoint, message) => {
    expect(() => connectUrl(endpoint)).toThrow(InvalidEndpointError);
    expect(() => connectUrl(endpoint)).toThrow(message);
    expect(() => connectUrl(endpoint)).toThrow(`invalid --endpoint "${endpoint}"`);
  });
});
