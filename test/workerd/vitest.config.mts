import { defineConfig } from "vitest/config";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";

export default defineConfig({
  plugins: [
    cloudflareTest({
      main: "./worker/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          CORTEX_ADMIN_KEY: "test-admin-key-0123456789abcdef0123456789abcdef",
          CORTEX_ENCRYPTION_KEY: "test-encryption-key-0123456789abcdef0123456789abcdef",
          // Escalations: links to this address, mail from this sender, webhooks to the local receiver.
          CORTEX_PUBLIC_URL: "https://cortex.example.test",
          CORTEX_EMAIL_FROM: "cortex@example.test",
          CORTEX_ALLOW_LOOPBACK_WEBHOOKS: "1",
          // The mock LLM server listens on loopback; test/workerd/llm-base-urls.test.ts turns this off to attack it.
          CORTEX_ALLOW_PRIVATE_LLM_URLS: "1",
        },
      },
    }),
  ],
  test: {
    include: ["test/workerd/**/*.test.ts"],
    globalSetup: ["scripts/build.ts", "test/support/mock-llm-global-setup.ts", "test/support/webhook-receiver-global-setup.ts"],
    testTimeout: 20_000,
  },
});
