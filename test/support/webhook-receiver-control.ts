/**
 * What tests send to and read from the webhook receiver (webhook-receiver.ts). Plain data without Node imports, so
 * tests inside workerd, which reach the receiver over loopback, share it.
 */

/** One request the receiver got. */
export interface ReceivedHook {
  path: string;
  at: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The control paths, for clients outside the receiver's process (tests inside workerd). */
export const HOOK_CONTROL = {
  /** GET ?path=/hooks/x: what was posted to that path so far. */
  received: "/__hooks/received",
} as const;

declare module "vitest" {
  export interface ProvidedContext {
    /** Port of the webhook receiver on 127.0.0.1 (webhook-receiver-global-setup.ts), for tests inside workerd. */
    webhookReceiverPort: number;
  }
}
