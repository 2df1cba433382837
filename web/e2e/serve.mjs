// Fallback for runners that do not serve the portal yet: serves web/dist and /config.js and
// forwards every other request to the API runner, so the portal and the API share one origin
// as they do behind `scripts/run-local.sh`.   node e2e/serve.mjs PORT API_BASE_URL
import http from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const [port, api] = [Number(process.argv[2]), new URL(process.argv[3])];
const dist = fileURLToPath(new URL("../dist/", import.meta.url));
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".map": "application/json", ".svg": "image/svg+xml" };

http
  .createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (req.method === "GET" && (path === "/" || path === "/index.html" || path === "/config.js" || path.startsWith("/assets/"))) {
      try {
        const file = normalize(join(dist, path === "/" ? "index.html" : path));
        if (!file.startsWith(dist)) throw new Error("outside dist");
        const body = await readFile(file);
        res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
        return res.end(body);
      } catch {
        res.writeHead(404).end();
        return;
      }
    }
    const upstream = http.request(
      { host: api.hostname, port: api.port, method: req.method, path: req.url, headers: { ...req.headers, host: api.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  })
  .listen(port, "127.0.0.1", () => console.log(`portal on http://127.0.0.1:${port} -> ${api.href}`));
