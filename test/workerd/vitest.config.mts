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
        },
      },
    }),
  ],
  test: {
    include: ["test/workerd/**/*.test.ts"],
    globalSetup: ["scripts/build.ts", "test/support/mock-llm-global-setup.ts"],
    testTimeout: 20_000,
  },
});
