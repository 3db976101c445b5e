import type { TestProject } from "vitest/node";
import { MockLlm } from "./mock-llm.ts";
import "./mock-llm-script.ts";

/**
 * Starts one mock LLM server for a test run. Tests inside workerd reach it over loopback (workerd may fetch
 * 127.0.0.1) and script it through its control API, each test with its own API key.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const mock = await MockLlm.start();
  project.provide("mockLlmPort", mock.port);
  return () => mock.close();
}
