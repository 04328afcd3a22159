import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          setupFiles: ["test/helpers/fast-check-seed.ts"],
          include: [
            "operator/src/**/*.test.ts",
            "hack/**/*.test.ts",
            "bench/**/*.test.ts",
            "test/helpers/**/*.test.ts",
          ],
          environment: "node",
          // A hang guard, not a timing threshold: simulation and property tests take several seconds on a
          // loaded 2-core machine.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
