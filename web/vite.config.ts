import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// `npm run dev` proxies the API to a running `scripts/run-local.sh` (CAREFLOW_API, default
// http://localhost:3000); the portal itself uses hash routes, so every other path is the API.
const api = process.env.CAREFLOW_API ?? "http://localhost:3000";
const apiPaths = ["/auth", "/me", "/users", "/patients", "/appointments", "/invoices", "/doctors", "/slots", "/waitlist", "/lab-reports", "/analytics", "/.well-known"];

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: { outDir: "dist", sourcemap: true, target: "es2022" },
  server: { proxy: Object.fromEntries(apiPaths.map((p) => [p, { target: api, changeOrigin: true }])) },
});
