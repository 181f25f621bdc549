// OpenAI's official client (npm `openai`) against the Responses API of `tritonllm serve --demo` on a loopback
// port: whole and streamed responses that agree (event order, sequence numbers, the final response), a function
// call round trip sent as input items, reasoning items replayed, previous_response_id within one process and
// across a restart on the same --store file, retrieve and delete, and the errors as the client's typed
// exceptions. Usage: node responses.mjs TRITONLLM_BINARY
// Prints one line per check; exits non-zero on the first failure.
import OpenAI from "openai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { serve, stop } from "./serve.mjs";

const binary = process.argv[2];
const work = mkdtempSync(join(tmpdir(), "tllm-responses-"));
const storePath = join(work, "responses.db");
const model = "gpt-oss-demo";
const weather = {
  type: "function", name: "get_weather", description: "The weather in a city.",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }, strict: false,
};

// The items of a response, without the ids that differ between two runs of the same request.
const withoutIds = (output) => output.map(({ id, call_id, ...rest }) => rest);

let server;
try {
  server = await serve(binary, work, ["--store", storePath]);
  let client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const request = { model, instructions: "Be brief.", input: "Say something.", max_output_tokens: 16,
                    temperature: 0, reasoning: { effort: "low" }, metadata: { run: "test" } };

  const whole = await client.responses.create(request);
  assert.equal(whole.object, "response");
  assert.match(whole.id, /^resp_/);
  assert.ok(["completed", "incomplete"].includes(whole.status), whole.status);
  assert.equal(whole.model, model);
  assert.equal(whole.instructions, "Be brief.");
  assert.deepEqual(whole.metadata, { run: "test" });
  assert.ok(whole.usage.output_tokens >= 1 && whole.usage.output_tokens <= 16);
  assert.equal(whole.usage.total_tokens, whole.usage.input_tokens + whole.usage.output_tokens);
  assert.equal(typeof whole.usage.input_tokens_details.cached_tokens, "number");
  assert.equal(typeof whole.usage.output_tokens_details.reasoning_tokens, "number");
  for (const item of whole.output) {
    assert.ok(["reasoning", "message", "function_call"].includes(item.type), item.type);
    if (item.type === "message") assert.equal(item.content[0].type, "output_text");
    if (item.type === "reasoning") assert.equal(item.content[0].type, "reasoning_text");
  }
  assert.equal(typeof whole.output_text, "string"); // the client's own sum of the output_text parts
  console.log(`responses.create: ok (${whole.usage.input_tokens} + ${whole.usage.output_tokens} tokens)`);

  const stream = await client.responses.create({ ...request, stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i), "sequence numbers count up");
  assert.equal(events[0].type, "response.created");
  assert.equal(events[1].type, "response.in_progress");
  const last = events.at(-1);
  assert.equal(last.type, `response.${whole.status}`);
  assert.deepEqual(withoutIds(last.response.output), withoutIds(whole.output), "streamed output equals whole");
  const { input_tokens_details: cachedAgain, ...rest } = last.response.usage;
  const { input_tokens_details: cachedFirst, ...wholeRest } = whole.usage;
  assert.deepEqual(rest, wholeRest); // cached_tokens aside: a repeated prompt's full blocks come from the cache
  assert.equal(cachedAgain.cached_tokens, Math.floor((rest.input_tokens - 1) / 16) * 16, "cached_tokens");
  assert.ok(cachedFirst.cached_tokens <= cachedAgain.cached_tokens);
  // Each item: added, its parts and deltas, done; the deltas add up to the item's text.
  for (const [index, item] of last.response.output.entries()) {
    const mine = events.filter((e) => e.output_index === index);
    assert.equal(mine[0].type, "response.output_item.added");
    assert.equal(mine.at(-1).type, "response.output_item.done");
    assert.deepEqual(mine.at(-1).item, item);
    const deltas = mine.filter((e) => e.type.endsWith(".delta")).map((e) => e.delta).join("");
    const text = item.type === "function_call" ? item.arguments : item.content[0].text;
    assert.equal(deltas, text);
  }
  console.log(`responses stream: ok (${events.length} events)`);

  // A function call round trip, as a client that ran the call sends it back; a reasoning item is replayed.
  const roundTrip = await client.responses.create({
    model, tools: [weather, { type: "file_search", vector_store_ids: ["vs_1"] }], max_output_tokens: 8, temperature: 0,
    input: [
      { role: "user", content: "Weather in Paris?" },
      { type: "reasoning", id: "rs_1", summary: [], content: [{ type: "reasoning_text", text: "Need the weather." }] },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{\"city\":\"Paris\"}" },
      { type: "function_call_output", call_id: "call_1", output: "{\"sky\":\"clear\"}" },
    ],
  });
  assert.equal(roundTrip.tools.length, 1, "the tool of an unknown type is skipped");
  assert.ok(roundTrip.usage.input_tokens > whole.usage.input_tokens);
  const forced = await client.responses.create({
    model, tools: [weather], tool_choice: { type: "function", name: "get_weather" }, input: "Paris?",
    max_output_tokens: 8, temperature: 0 });
  assert.equal(forced.output[0].type, "function_call", "a named tool_choice forces the call");
  assert.equal(forced.output[0].name, "get_weather");
  console.log("function call round trip: ok");

  const next = await client.responses.create({ model, previous_response_id: whole.id, input: "And then?",
                                               max_output_tokens: 8 });
  assert.equal(next.previous_response_id, whole.id);
  assert.ok(next.usage.input_tokens > whole.usage.input_tokens, "the previous conversation is in the prompt");
  const retrieved = await client.responses.retrieve(whole.id);
  assert.equal(retrieved.id, whole.id);
  assert.deepEqual(retrieved.output, whole.output);
  console.log("previous_response_id and retrieve: ok");

  await stop(server);
  server = await serve(binary, work, ["--store", storePath]);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  assert.deepEqual((await client.responses.retrieve(next.id)).output, next.output, "stored across a restart");
  const after = await client.responses.create({ model, previous_response_id: next.id, input: "More?",
                                                max_output_tokens: 8 });
  assert.ok(after.usage.input_tokens > next.usage.input_tokens);
  console.log("previous_response_id across a restart: ok");

  await client.responses.delete(whole.id);
  await assert.rejects(client.responses.retrieve(whole.id), (error) => error instanceof OpenAI.NotFoundError);
  await assert.rejects(client.responses.delete(whole.id), (error) => error instanceof OpenAI.NotFoundError);
  const unstored = await client.responses.create({ model, input: "Hi", max_output_tokens: 4, store: false });
  await assert.rejects(client.responses.retrieve(unstored.id), (error) => error instanceof OpenAI.NotFoundError);
  console.log("delete and store: false: ok");

  await assert.rejects(client.responses.create({ model, input: "Hi", temperature: 5 }),
                       (error) => error instanceof OpenAI.BadRequestError && /temperature/.test(error.message));
  await assert.rejects(client.responses.create({ model, input: 42 }),
                       (error) => error instanceof OpenAI.BadRequestError && /input/.test(error.message));
  await assert.rejects(
    client.responses.create({ model, input: "Hi", tools: [{ type: "function", name: "bad name" }] }),
    (error) => error instanceof OpenAI.BadRequestError && /tools\[0\]\.name/.test(error.message));
  await assert.rejects(client.responses.create({ model: "gpt-9", input: "Hi" }),
                       (error) => error instanceof OpenAI.NotFoundError && /gpt-9/.test(error.message));
  await assert.rejects(client.responses.create({ model, input: "Hi", previous_response_id: "resp_none" }),
                       (error) => error instanceof OpenAI.NotFoundError && error.code === "previous_response_not_found");
  console.log("responses errors: ok");
  await stop(server);
  server = null;
} finally {
  if (server) server.process.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
