/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle is written into the Python package, which ships it in the wheel and
// serves it at / (orca serve). `npm run dev` proxies the API to ORCA_URL.
const target = process.env.ORCA_URL ?? "http://127.0.0.1:8700";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/orca/server/ui",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/v1": {
        target,
        changeOrigin: true,
        // the server refuses pages of other origins: the dev page is one
        configure: (proxy) => proxy.on("proxyReq", (req) => req.removeHeader("origin")),
      },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
    // CI runs on two cores beside other suites: a slow test is not a failing one
    testTimeout: 30_000,
  },
});
