import type { TestProject } from "vitest/node";
import { WebhookReceiver } from "./webhook-receiver.ts";

/** One webhook receiver for a test run; each test posts to its own path. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const receiver = await WebhookReceiver.start();
  project.provide("webhookReceiverPort", receiver.port);
  return () => receiver.close();
}
