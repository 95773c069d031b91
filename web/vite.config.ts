import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle goes into the Python package; the server serves it at "/" and hashed files under /assets.
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: {
    outDir: "../src/runyard/ui/static",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:5050",
      "/ajax-api": "http://127.0.0.1:5050",
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
