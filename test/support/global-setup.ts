import { setupTestUser } from "./action-user.ts";

/** Vitest global setup of the node and e2e suites: the action user of agents at lower tiers, when running as root. */
export default function setup(): void {
  setupTestUser();
}
