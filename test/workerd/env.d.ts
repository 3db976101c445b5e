import type { Env as HubEnv } from "../../worker/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends HubEnv {}
  }
}
