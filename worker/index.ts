import { createApp } from "./app.ts";

export { SiteHub } from "../durable-objects/site-hub/site-hub.ts";

export default createApp();
