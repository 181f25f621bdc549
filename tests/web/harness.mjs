// What the chat page's tests share: `tritonllm serve --demo` on a free loopback port, Debian's chromium driven by
// playwright-core (which never downloads a browser), pages that wait until the chat is wired, screenshots under the
// build folder, and a loopback server that plays a hand-written stream with pauses.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

// Whether the engine has no request left (as the server tests ask it).
export { idle } from "../server/openai_client/serve.mjs";

export const binary = process.env.TRITONLLM_BINARY;
export const screenshots = process.env.TLLM_SCREENSHOTS;
const chromiumPath = process.env.TLLM_CHROMIUM ?? "/usr/bin/chromium";

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch {
  throw new Error("playwright-core is not installed in tests/web: run scripts/install-deps.sh");
}
if (!binary || !screenshots) throw new Error("set TRITONLLM_BINARY and TLLM_SCREENSHOTS (ctest sets both)");
if (!existsSync(chromiumPath)) {
  throw new Error(`no browser at ${chromiumPath}: install Debian's chromium (scripts/install-deps.sh) or set TLLM_CHROMIUM`);
}
mkdirSync(screenshots, { recursive: true });

// Starts a server; resolves with { url, process, stop() } once it says where it listens.
export function serve(cache, extra = []) {
  const child = spawn(binary, ["serve", "--demo", "--port", "0", "--backend", "cpu", "--threads", "2", ...extra],
                      { env: { ...process.env, TRITONLLM_CACHE_DIR: cache }, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr.on("data", (data) => {
      log += data;
      const found = log.match(/on (http:\/\/127\.0\.0\.1:\d+)/);
      if (found) {
        resolve({ url: found[1], process: child, exited,
                  stop: (signal = "SIGTERM") => { child.kill(signal); return exited; } });
      }
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
}

export function launch() {
  return chromium.launch({ executablePath: chromiumPath, headless: true });
}

// A page of a fresh context (its own localStorage) at `url`, wired and drawn.
export async function open(browser, url, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, reducedMotion: "reduce",
                                             ...options });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !/Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  await page.goto(`${url}/`);
  await page.waitForSelector("body[data-ready]");
  return { context, page, problems };
}

export const shot = (page, name) => page.screenshot({ path: join(screenshots, name) });

// A loopback server that answers every request with `parts` (strings), waiting `pauseMs` between them: a stream
// whose states can be seen one at a time. Resolves with { url, close() }.
export function slowStream(parts, pauseMs) {
  const server = createServer(async (req, res) => {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    for (const [i, part] of parts.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      res.write(part);
    }
    res.end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${server.address().port}/v1/responses`,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  })));
}
