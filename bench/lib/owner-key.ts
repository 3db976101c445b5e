import { CreatedApiKey } from "../../protocol/accounts.ts";
import type { Fleet } from "../../test/support/fleet.ts";
import { ANY_JSON, HubSession } from "../../test/support/hub-session.ts";
import { KeepAliveClient } from "./http-client.ts";

/**
 * A keep-alive client with a person's API key (admin scope), as a CLI or script would use it, not the hub's setup
 * key: sets the hub up with an owner and issues the key.
 */
export async function ownerKeyClient(fleet: Fleet): Promise<KeepAliveClient> {
  const owner = new HubSession(fleet.hub.url);
  await owner.post("/api/setup", { setupCode: fleet.hub.adminKey, email: "bench@example.com", name: "Bench", password: "bench password 0123456789" }, ANY_JSON, 201);
  const key = (await owner.post("/api/auth/api-keys", { name: "bench", scope: "admin" }, CreatedApiKey, 201)).key;
  return new KeepAliveClient(fleet.hub.url, { Authorization: `Bearer ${key}` });
}
