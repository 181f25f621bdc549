// OpenAI's official client (npm `openai`) against `tritonllm serve --demo` on a loopback port: the model list,
// whole and streamed chat completions that agree, usage in streams, errors as the client's typed exceptions, an
// aborted stream that leaves the engine idle, a stream that runs to its end while the server drains on SIGTERM,
// and the API key. Usage: node client.mjs TRITONLLM_BINARY
// Prints one line per check; exits non-zero on the first failure.
import OpenAI from "openai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { serve as serveDemo, stop, idle } from "./serve.mjs";

const binary = process.argv[2];
const cache = mkdtempSync(join(tmpdir(), "tllm-openai-"));

const serve = (extra = []) => serveDemo(binary, cache, extra);

const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Say something." }];
let server;
try {
  server = await serve();
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });

  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === "gpt-oss-demo"), "the model list names the served model");
  console.log("models.list: ok");

  const whole = await client.chat.completions.create({ model: "gpt-oss-demo", messages, max_tokens: 12,
                                                       temperature: 0, seed: 7 });
  assert.equal(whole.object, "chat.completion");
  assert.equal(whole.choices[0].message.role, "assistant");
  assert.ok(["stop", "length", "tool_calls"].includes(whole.choices[0].finish_reason));
  assert.ok(whole.usage.completion_tokens >= 1 && whole.usage.completion_tokens <= 12);
  console.log(`chat.completions.create: ok (${whole.usage.prompt_tokens} + ${whole.usage.completion_tokens} tokens)`);

  const stream = await client.chat.completions.create({ model: "gpt-oss-demo", messages, max_tokens: 12,
                                                        temperature: 0, seed: 7, stream: true,
                                                        stream_options: { include_usage: true } });
  let content = "";
  let reasoning = "";
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? "";
      reasoning += choice.delta.reasoning_content ?? "";
      finish = choice.finish_reason ?? finish;
    }
  }
  assert.equal(content, whole.choices[0].message.content ?? "", "streamed content equals the whole response's");
  assert.equal(reasoning, whole.choices[0].message.reasoning_content ?? "");
  assert.equal(finish, whole.choices[0].finish_reason);
  // The repeated prompt's full blocks of 16 come from the prefix cache: only cached_tokens may differ.
  const { prompt_tokens_details: cachedAgain, ...rest } = usage;
  const { prompt_tokens_details: cachedFirst, ...wholeRest } = whole.usage;
  assert.deepEqual(rest, wholeRest);
  assert.equal(cachedAgain.cached_tokens, Math.floor((usage.prompt_tokens - 1) / 16) * 16, "cached_tokens");
  assert.ok(cachedFirst.cached_tokens <= cachedAgain.cached_tokens);
  console.log("chat.completions.create stream: ok");

  await assert.rejects(
    client.chat.completions.create({ model: "gpt-oss-demo", messages, temperature: 5 }),
    (error) => error instanceof OpenAI.BadRequestError && error.status === 400 && /temperature/.test(error.message));
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-oss-demo", messages: "hello" }),
    (error) => error instanceof OpenAI.BadRequestError && /messages/.test(error.message));
  await assert.rejects(
    client.chat.completions.create({ model: "gpt-9", messages }),
    (error) => error instanceof OpenAI.NotFoundError && error.code === "model_not_found" && error.param === "model");
  console.log("errors: ok");

  const aborted = new AbortController();
  const long = await client.chat.completions.create(
    { model: "gpt-oss-demo", messages, max_tokens: 64, stream: true }, { signal: aborted.signal });
  try {
    for await (const chunk of long) {
      void chunk;
      aborted.abort();
    }
  } catch (error) {
    assert.ok(error instanceof OpenAI.APIUserAbortError || error.name === "AbortError", String(error));
  }
  assert.ok(await idle(server.url), "an aborted stream leaves the engine idle");
  console.log("abort: ok");

  // SIGTERM while a stream runs: no new connections, and the running stream still ends normally.
  const draining = await client.chat.completions.create(
    { model: "gpt-oss-demo", messages, max_tokens: 48, temperature: 0, stream: true });
  const exited = new Promise((resolve) => server.process.on("exit", resolve));
  let signalled = false;
  let drainedFinish = null;
  for await (const chunk of draining) {
    if (!signalled) {
      server.process.kill("SIGTERM");
      signalled = true;
    }
    drainedFinish = chunk.choices[0]?.finish_reason ?? drainedFinish;
  }
  assert.ok(drainedFinish !== null, "the running stream ends with its finish reason");
  assert.equal(await exited, 0, "the server exits cleanly once the stream is done");
  server = null;
  console.log("drain on SIGTERM: ok");

  server = await serve(["--api-key", "sekrit"]);
  const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "nope", maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (error) => error instanceof OpenAI.AuthenticationError);
  const right = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sekrit", maxRetries: 0 });
  assert.ok((await right.models.list()).data.length === 1);
  assert.ok(!server.log().includes("sekrit"), "the log never holds the API key");
  console.log("api key: ok");
  await stop(server);
  server = null;
} finally {
  if (server) server.process.kill("SIGKILL");
  rmSync(cache, { recursive: true, force: true });
}
