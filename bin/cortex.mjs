#!/usr/bin/env node
// The CLI and agent are TypeScript run through tsx, so there is no build step between a checkout and a working agent.
import { register } from "tsx/esm/api";

register();
await import("../agent/cli/main.ts");
