export * from "./identifiers.ts";
export * from "./tiers.ts";
export * from "./metrics.ts";
export * from "./limits.ts";
export * from "./close-codes.ts";
export * from "./directives.ts";
export * from "./node-messages.ts";
export * from "./api.ts";
export * from "./tier-policy.ts";
export * from "./node-token.ts";
export * from "./paths.ts";
export * from "./accounts.ts";
export * from "./live-messages.ts";
export * from "./metrics-history.ts";
export * from "./action-risk.ts";
export * from "./redaction.ts";
<<<<<<< HEAD
export * from "./roost-manifest.ts";
export * from "./roost-api.ts";
=======
export * from "./machine-actions.ts";
export * from "./tools/index.ts";
>>>>>>> main
