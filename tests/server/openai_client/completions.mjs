// OpenAI's official client (npm `openai`) against `tritonllm serve --demo`: legacy completions (whole and
// streamed, with logprobs; errors), Chat Completions log-probabilities (whole and streamed alike, their bytes
// adding up to the content), tool_choice naming a function (the reply is that call) and `n` choices.
// Usage: node completions.mjs TRITONLLM_BINARY. Prints one line per check; exits non-zero on the first failure.
import OpenAI from "openai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { serve, stop } from "./serve.mjs";

const binary = process.argv[2];
const cache = mkdtempSync(join(tmpdir(), "tllm-openai-"));
let server;
try {
  server = await serve(binary, cache);
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const model = "gpt-oss-demo";

  const request = { model, prompt: "The capital of France is", max_tokens: 10, temperature: 0, seed: 3, logprobs: 2 };
  const whole = await client.completions.create(request);
  assert.equal(whole.object, "text_completion");
  assert.equal(whole.usage.prompt_tokens, 5, "the prompt is tokenized as it is, without a chat template");
  assert.ok(["stop", "length"].includes(whole.choices[0].finish_reason));
  const logprobs = whole.choices[0].logprobs;
  assert.equal(logprobs.tokens.length, logprobs.token_logprobs.length);
  assert.equal(logprobs.tokens.length, logprobs.text_offset.length);
  assert.ok(logprobs.top_logprobs.every((top) => Object.keys(top).length <= 2));
  assert.ok(logprobs.token_logprobs.every((lp) => lp <= 0));
  console.log(`completions.create: ok (${whole.usage.completion_tokens} tokens)`);

  const stream = await client.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let finish = null;
  let usage = null;
  const tokens = [];
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.text;
      finish = choice.finish_reason ?? finish;
      tokens.push(...(choice.logprobs?.tokens ?? []));
    }
  }
  assert.equal(text, whole.choices[0].text, "streamed text equals the whole completion's");
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.deepEqual(tokens, logprobs.tokens);
  const { prompt_tokens_details: cachedAgain, ...rest } = usage;
  const { prompt_tokens_details: cachedFirst, ...wholeRest } = whole.usage;
  assert.deepEqual(rest, wholeRest); // cached_tokens aside: a repeated prompt's full blocks come from the cache
  assert.equal(cachedAgain.cached_tokens, Math.floor((usage.prompt_tokens - 1) / 16) * 16, "cached_tokens");
  assert.ok(cachedFirst.cached_tokens <= cachedAgain.cached_tokens);
  console.log("completions stream: ok");

  await assert.rejects(client.completions.create({ model, prompt: ["one", "two"] }),
                       (error) => error instanceof OpenAI.BadRequestError && /one prompt per request/.test(error.message));
  await assert.rejects(client.completions.create({ model, prompt: "Hi", echo: true }),
                       (error) => error instanceof OpenAI.BadRequestError && /echo/.test(error.message));
  await assert.rejects(client.completions.create({ model: "gpt-9", prompt: "Hi" }),
                       (error) => error instanceof OpenAI.NotFoundError && error.code === "model_not_found" &&
                         error.param === "model");
  console.log("completions errors: ok");

  const messages = [{ role: "user", content: "Say something." }];
  const chat = { model, messages, max_tokens: 24, temperature: 0, seed: 5, logprobs: true, top_logprobs: 3 };
  const answer = await client.chat.completions.create(chat);
  const entries = answer.choices[0].logprobs.content;
  const bytes = Buffer.from(entries.flatMap((entry) => entry.bytes));
  assert.equal(bytes.toString("utf8"), answer.choices[0].message.content ?? "",
               "the entries are the content's tokens, nothing of reasoning or Harmony's structure");
  assert.ok(entries.every((entry) => entry.top_logprobs.length === 3 && entry.logprob <= 0));
  const streamedEntries = [];
  for await (const chunk of await client.chat.completions.create({ ...chat, stream: true })) {
    streamedEntries.push(...(chunk.choices[0]?.logprobs?.content ?? []));
  }
  assert.deepEqual(streamedEntries, entries, "streamed entries equal the whole response's");
  console.log(`chat logprobs: ok (${entries.length} content tokens)`);

  const tools = [{ type: "function", function: { name: "get_weather", description: "Weather in a city.",
                                                 parameters: { type: "object", properties: { city: { type: "string" } } } } }];
  const forced = await client.chat.completions.create({
    model, messages: [{ role: "user", content: "Weather in Paris?" }], tools, max_tokens: 8,
    tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: false });
  assert.equal(forced.choices[0].message.tool_calls?.[0]?.function.name, "get_weather", "a named tool_choice is a call");
  assert.equal(forced.choices[0].finish_reason, "tool_calls");
  await assert.rejects(
    client.chat.completions.create({ model, messages, tools, tool_choice: { type: "function", function: { name: "nope" } } }),
    (error) => error instanceof OpenAI.BadRequestError && /nope/.test(error.message));
  console.log("tool_choice: ok");

  // n choices: each its own sequence (seed + i), whole and streamed alike, the prompt counted once.
  const several = { model, messages, max_tokens: 12, seed: 11, n: 3 };
  const three = await client.chat.completions.create(several);
  assert.deepEqual(three.choices.map((choice) => choice.index), [0, 1, 2]);
  const one = await client.chat.completions.create({ ...several, n: 1 });
  assert.equal(three.usage.prompt_tokens, one.usage.prompt_tokens, "the prompt is counted once");
  assert.deepEqual(three.choices[0].message, one.choices[0].message, "choice 0 is what seed 11 alone gives");
  const byIndex = ["", "", ""];
  for await (const chunk of await client.chat.completions.create({ ...several, stream: true })) {
    for (const choice of chunk.choices) byIndex[choice.index] += choice.delta.content ?? "";
  }
  assert.deepEqual(byIndex, three.choices.map((choice) => choice.message.content ?? ""));
  const texts = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 6, seed: 2, n: 2 });
  assert.equal(texts.choices.length, 2);
  await assert.rejects(client.chat.completions.create({ ...several, n: 17 }),
                       (error) => error instanceof OpenAI.BadRequestError && /n must be an integer/.test(error.message));
  console.log("n choices: ok");
  await stop(server);
  server = null;
} finally {
  if (server) server.process.kill("SIGKILL");
  rmSync(cache, { recursive: true, force: true });
}
