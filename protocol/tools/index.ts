export * from "./tool.ts";
export * from "./hub-tools.ts";
export * from "./catalog.ts";
export * from "./offer.ts";
export * from "./provider-schemas.ts";
