import { createApp } from "./app.ts";

export { Conversation } from "../durable-objects/conversation/conversation.ts";
export { CredentialShard } from "../durable-objects/credentials/credential-shard.ts";
export { Directory } from "../durable-objects/directory/directory.ts";
export { SiteHub } from "../durable-objects/site-hub/site-hub.ts";

export default createApp();
