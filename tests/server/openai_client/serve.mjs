// Starts and stops `tritonllm serve --demo` for the client tests.
import { spawn } from "node:child_process";
import assert from "node:assert/strict";

// Starts a server on a free port; resolves with { url, process, log } once it says where it listens.
export function serve(binary, cache, extra = []) {
  const child = spawn(binary, ["serve", "--demo", "--port", "0", "--backend", "cpu", "--threads", "2",
                               "--max-output-tokens", "64", ...extra],
                      { env: { ...process.env, TRITONLLM_CACHE_DIR: cache }, stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr.on("data", (data) => {
      log += data;
      const found = log.match(/on (http:\/\/127\.0\.0\.1:\d+)/);
      if (found) resolve({ url: found[1], process: child, log: () => log });
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}):\n${log}`)));
  });
}

export async function stop(server) {
  const exited = new Promise((resolve) => server.process.on("exit", resolve));
  server.process.kill("SIGTERM");
  assert.equal(await exited, 0, "the server exits cleanly on SIGTERM");
}

export async function idle(url) {
  for (let i = 0; i < 300; ++i) {
    const health = await (await fetch(`${url}/health`)).json();
    if (health.running === 0 && health.waiting === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
