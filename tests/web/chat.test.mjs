// The chat page end to end: Debian's chromium (headless, through playwright-core) against `tritonllm serve --demo`
// on loopback. Against the real server: send and stream, stop, reasoning effort, a conversation restored after a
// reload, a refused tool, the API key, the server going away. Against hand-written streams in the server's exact
// event format (sse.mjs), since the demo model's random weights call no tool: built-in tool calls shown as they
// happen, the function-tool round trip, Markdown with highlighted code made safe; and the phone-sized layout.
// Screenshots of the main states go to $TLLM_SCREENSHOTS.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { idle, launch, open, serve, shot, slowStream } from "./harness.mjs";
import { ResponseStream } from "./sse.mjs";

const cache = mkdtempSync(join(tmpdir(), "tllm-web-"));
let browser;
let server;

before(async () => {
  [browser, server] = await Promise.all([launch(), serve(cache, ["--max-output-tokens", "4096"])]);
});
after(async () => {
  await browser?.close();
  if (server) await server.stop("SIGKILL");
  rmSync(cache, { recursive: true, force: true });
});

const responsesRequest = (page) => page.waitForRequest((r) => r.url().endsWith("/v1/responses"));
const assistant = (page) => page.locator(".turn.assistant").last();

async function send(page, text) {
  const request = responsesRequest(page);
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByLabel("Message", { exact: true }).press("Enter");
  return (await request).postDataJSON();
}

async function replyDone(page) {
  await page.getByRole("button", { name: "Send" }).waitFor({ state: "visible", timeout: 60_000 });
}

describe("against tritonllm serve --demo", () => {
  let page;
  let problems;
  before(async () => {
    ({ page, problems } = await open(browser, server.url));
  });

  it("streams a reply and shows its speed", async () => {
    await assert.doesNotReject(page.getByLabel("Model").filter({ hasText: "gpt-oss-demo" }).waitFor());
    await page.getByLabel("Max output tokens").fill("120");
    await page.getByLabel("Instructions").fill("Answer briefly.");
    await page.getByLabel("Temperature").fill("0.7");
    const body = await send(page, "Write a haiku about GPUs.");
    assert.equal(body.stream, true);
    assert.equal(body.store, false);
    assert.equal(body.max_output_tokens, 120);
    assert.equal(body.instructions, "Answer briefly.");
    assert.equal(body.temperature, 0.7);
    assert.deepEqual(body.reasoning, { effort: "medium" });
    assert.deepEqual(body.input, [{ type: "message", role: "user", content: "Write a haiku about GPUs." }]);
    // While it streams: the stop button, and text that grows.
    await page.getByRole("button", { name: "Stop" }).waitFor();
    await replyDone(page);
    const footer = await assistant(page).locator(".turn-footer").textContent();
    assert.match(footer, /TTFT \d+\.\d\d s/);
    assert.match(footer, /\d+\.\d tok\/s/);
    assert.match(footer, /\d+ tokens/);
    assert.match(await page.locator("#ttft").textContent(), /^\d+\.\d\d s$/);
    assert.ok((await assistant(page).locator(".item").count()) >= 1, "the reply has items");
    await shot(page, "01-streamed-reply.png");
  });

  it("stops a reply, and the server stops generating it", async () => {
    await page.getByLabel("Max output tokens").fill("");
    const body = await send(page, "Tell me a long story.");
    assert.equal(body.max_output_tokens, undefined, "an empty field leaves the server's default");
    assert.equal(body.input.length, 3, "the conversation so far, replayed");
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("tokens").textContent));
    await page.getByRole("button", { name: "Stop" }).click();
    await replyDone(page);
    assert.equal(await assistant(page).locator(".turn-status").textContent(), "Stopped.");
    assert.ok(await idle(server.url), "the cancelled request left the engine");
    assert.equal(await page.evaluate(() => document.activeElement.id), "prompt", "focus is back in the message box");
    await shot(page, "02-stopped.png");
  });

  it("sends the reasoning effort chosen, and Escape stops", async () => {
    await page.getByLabel("Reasoning effort").selectOption("high");
    const body = await send(page, "Think hard.");
    assert.deepEqual(body.reasoning, { effort: "high" });
    await page.getByRole("button", { name: "Stop" }).waitFor();
    await page.keyboard.press("Escape");
    await replyDone(page);
    await page.getByLabel("Reasoning effort").selectOption("low");
  });

  it("keeps the conversation across a reload", async () => {
    const before = await page.locator(".turn").allTextContents();
    assert.equal(before.length, 6);
    await page.reload();
    await page.waitForSelector("body[data-ready]");
    assert.deepEqual(await page.locator(".turn").allTextContents(), before);
    assert.equal(await page.getByLabel("Reasoning effort").inputValue(), "low", "settings are kept too");
    const entry = page.locator("#conversation-list .conversation-open", { hasText: "Write a haiku about GPUs." });
    assert.equal(await entry.getAttribute("aria-current"), "true");
    await page.getByRole("button", { name: "New chat" }).click();
    assert.equal(await page.locator(".turn").count(), 0);
    await entry.click();
    assert.deepEqual(await page.locator(".turn").allTextContents(), before);
    await shot(page, "03-restored-after-reload.png");
  });

  it("shows the server's refusal of a tool it lacks", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    await page.getByLabel("Browser (web search)").check();
    const body = await send(page, "Search the web.");
    assert.deepEqual(body.tools, [{ type: "web_search" }]);
    const error = page.getByRole("alert");
    await error.waitFor();
    assert.match(await error.textContent(), /refused the request \(HTTP 400\).*web_search is not available/);
    await shot(page, "04-refused.png");
    await page.getByLabel("Browser (web search)").uncheck();
  });

  it("keeps a question asked just before a reload, and deletes a conversation", async () => {
    await page.getByRole("button", { name: "New chat" }).click();
    await send(page, "Interrupted question");
    await page.getByRole("button", { name: "Stop" }).waitFor();
    await page.reload();
    await page.waitForSelector("body[data-ready]");
    assert.deepEqual(await page.locator(".turn").allTextContents(), ["Interrupted question"]);
    assert.ok(await idle(server.url), "the reply the reload cut off was cancelled");
    const entries = page.locator("#conversation-list li");
    const count = await entries.count();
    await page.getByRole("button", { name: "Delete “Interrupted question”" }).click();
    assert.equal(await entries.count(), count - 1);
    assert.equal(await page.locator(".turn").count(), 0, "the open conversation was the one deleted");
    await page.reload();
    await page.waitForSelector("body[data-ready]");
    assert.equal(await entries.count(), count - 1);
  });

  it("has no script errors", () => {
    assert.deepEqual(problems.filter((p) => !/40[01]/.test(p)), []);
  });
});

describe("with hand-written streams", () => {
  it("shows built-in tool calls and their results as they happen", async (t) => {
    const { page, context } = await open(browser, server.url);
    await page.getByLabel("Browser (web search)").check();
    await page.getByLabel("Python (code interpreter)").check();
    const stream = new ResponseStream({ tools: [{ type: "web_search" }, { type: "code_interpreter" }] })
      .reasoning("The user wants kernel facts. Search first.")
      .webSearch({ type: "search", query: "tritonllm decode kernels" }, { pause: true })
      .webSearch({ type: "open_page", url: "https://example.com/kernels" })
      .codeInterpreter("print(6 * 7)", "42\n", { pause: true })
      .message("## Findings\n\nThe page ([example.com](https://example.com/kernels)) says **6×7** is computed:\n\n" +
               "```python\nprint(6 * 7)  # 42\n```\n\n| op | tok/s |\n|---|---|\n| decode | 42 |\n\n" +
               "<img src=x onerror=\"window.__xss = 1\"><script>window.__xss = 2</script>")
      .complete();
    const slow = await slowStream(stream.parts(), 1500);
    t.after(() => Promise.all([slow.close(), context.close()]));
    let body;
    await page.route("**/v1/responses", (route) => {
      body = route.request().postDataJSON();
      return route.continue({ url: slow.url });
    });
    await page.getByLabel("Message", { exact: true }).fill("What do the kernels compute?");
    await page.keyboard.press("Enter");
    // Paused while the search runs: the call shows as searching.
    const search = page.locator(".item.web-search").first();
    await search.getByText("searching…").waitFor();
    await shot(page, "05-web-search-running.png");
    // Paused while python runs: its code is there, its output not yet.
    const code = page.locator(".item.code");
    await code.getByText("running…").waitFor();
    assert.match(await code.locator("pre code").textContent(), /print\(6 \* 7\)/);
    await replyDone(page);
    assert.deepEqual(body.tools, [{ type: "web_search" }, { type: "code_interpreter", container: { type: "auto" } }]);
    assert.equal(await search.locator(".tool-summary").textContent(), "Searched: tritonllm decode kernels");
    assert.equal(await page.locator(".item.web-search").nth(1).locator(".tool-summary").textContent(),
                 "Opened https://example.com/kernels");
    assert.equal(await code.locator(".tool-output").textContent(), "42\n");
    const reasoning = page.locator(".reasoning-details");
    assert.equal(await reasoning.evaluate((d) => d.open), false, "reasoning folds once done");
    await reasoning.locator("summary").click();
    assert.match(await reasoning.textContent(), /Search first/);
    const message = page.locator(".item.message");
    assert.equal(await message.locator("h2").textContent(), "Findings");
    assert.ok(await message.locator("pre code.hljs .hljs-built_in").count() >= 1, "python is highlighted");
    assert.equal(await message.locator("table td").nth(1).textContent(), "42");
    assert.equal(await message.locator("a").getAttribute("rel"), "noopener noreferrer");
    assert.equal(await message.locator("img[onerror], script").count(), 0, "the model's HTML is sanitized");
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await shot(page, "06-tool-calls-done.png");
  });

  it("answers a function call by hand (function_call_output round trip)", async () => {
    const { page, context } = await open(browser, server.url);
    await page.getByLabel("Offer it").check();
    await page.getByLabel("Name", { exact: true }).fill("get_weather");
    await page.getByLabel("Description").fill("Current weather in a city.");
    await page.getByLabel("Parameters (JSON Schema)").fill(
      JSON.stringify({ type: "object", properties: { city: { type: "string" } }, required: ["city"] }));
    const bodies = [];
    const replies = [
      (body) => new ResponseStream(body).reasoning("Need the weather tool.")
        .functionCall("get_weather", { city: "Paris" }).complete(),
      (body) => new ResponseStream(body, "resp_5eedf00dcafe0002").message("It is 18 °C and sunny in Paris.")
        .complete(),
    ];
    await page.route("**/v1/responses", (route) => {
      const body = route.request().postDataJSON();
      bodies.push(body);
      return route.fulfill({ status: 200, contentType: "text/event-stream",
                             body: replies[bodies.length - 1](body).body() });
    });
    await page.getByLabel("Message", { exact: true }).fill("Weather in Paris?");
    await page.keyboard.press("Enter");
    const answer = page.getByLabel("Your answer as get_weather (function_call_output)");
    await answer.waitFor();
    assert.deepEqual(bodies[0].tools, [{ type: "function", name: "get_weather",
                                         description: "Current weather in a city.",
                                         parameters: { type: "object", properties: { city: { type: "string" } },
                                                       required: ["city"] } }]);
    assert.match(await page.locator(".item.function").textContent(), /Function call: get_weather[\s\S]*"Paris"/);
    assert.equal(await page.evaluate(() => document.activeElement.tagName), "TEXTAREA");
    await shot(page, "07-function-call-waiting.png");
    await answer.fill('{"temperature_c": 18, "sky": "sunny"}');
    await page.getByRole("button", { name: "Send output" }).click();
    await page.locator(".item.message", { hasText: "sunny in Paris" }).waitFor();
    assert.deepEqual(bodies[1].input.slice(-2), [
      { type: "function_call", call_id: "call_5eedf00dcafe000101", name: "get_weather",
        arguments: '{"city":"Paris"}' },
      { type: "function_call_output", call_id: "call_5eedf00dcafe000101",
        output: '{"temperature_c": 18, "sky": "sunny"}' },
    ]);
    assert.equal(bodies[1].input[0].content, "Weather in Paris?");
    assert.equal(await page.getByLabel("Your answer as get_weather (function_call_output)").count(), 0);
    await shot(page, "08-function-call-answered.png");
    await context.close();
  });

  it("fits a phone-sized screen", async () => {
    const { page, context } = await open(browser, server.url, { viewport: { width: 390, height: 844 },
                                                                deviceScaleFactor: 2, isMobile: true,
                                                                hasTouch: true });
    await page.route("**/v1/responses", (route) => route.fulfill({
      status: 200, contentType: "text/event-stream",
      body: new ResponseStream().reasoning("Short answer.").message(
        "Use a **paged KV cache**:\n\n```cpp\nfor (int block = 0; block < blocks; ++block) {\n  attend(block);\n}\n```")
        .complete().body() }));
    assert.equal(await page.locator("#sidebar").isVisible(), false, "conversations are a drawer");
    assert.equal(await page.locator("#settings").isVisible(), false, "settings are a drawer");
    await page.getByLabel("Message", { exact: true }).fill("How is the KV cache kept?");
    await page.getByRole("button", { name: "Send" }).tap();
    await page.locator(".item.message pre").waitFor();
    await replyDone(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow} px too wide)`);
    const composer = await page.locator("#composer").boundingBox();
    assert.ok(composer.x >= 0 && composer.x + composer.width <= 390 && composer.y + composer.height <= 844);
    await shot(page, "09-phone.png");
    await page.getByRole("button", { name: "Settings" }).tap();
    await page.locator("#settings").waitFor({ state: "visible" });
    assert.equal(await page.getByRole("button", { name: "Settings" }).getAttribute("aria-expanded"), "true");
    await shot(page, "10-phone-settings.png");
    await page.keyboard.press("Escape");
    await page.locator("#settings").waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Conversations" }).tap();
    await page.locator("#sidebar").waitFor({ state: "visible" });
    await shot(page, "11-phone-conversations.png");
    await context.close();
  });
});

describe("a server with an API key", () => {
  it("asks for the key, then uses it", async () => {
    const keyed = await serve(cache, ["--api-key", "sekrit", "--max-output-tokens", "8"]);
    try {
      const { page, context } = await open(browser, keyed.url);
      const dialog = page.getByRole("dialog", { name: "API key" });
      await dialog.waitFor();
      await shot(page, "12-api-key.png");
      await page.getByLabel("Key", { exact: true }).fill("sekrit");
      await page.getByRole("button", { name: "Use this key" }).click();
      await page.getByLabel("Model").filter({ hasText: "gpt-oss-demo" }).waitFor();
      const request = page.waitForRequest((r) => r.url().endsWith("/v1/responses"));
      await page.getByLabel("Message", { exact: true }).fill("Hello?");
      await page.keyboard.press("Enter");
      assert.equal((await request).headers().authorization, "Bearer sekrit");
      await assistant(page).locator(".turn-stats", { hasText: "tokens" }).waitFor();
      assert.equal(await page.getByRole("alert").isVisible(), false);
      await context.close();
    } finally {
      await keyed.stop("SIGKILL");
    }
  });
});

describe("when the server goes away", () => {
  it("says so, mid-reply and before one", async () => {
    const { page, context } = await open(browser, server.url);
    await send(page, "A long reply, please.");
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("tokens").textContent));
    await server.stop("SIGKILL");
    server = null;
    const error = page.getByRole("alert");
    await error.waitFor();
    assert.match(await error.textContent(), /connection to the server was lost before the reply ended/);
    await send(page, "Are you there?");
    await page.getByRole("alert").filter({ hasText: "Cannot reach the server" }).waitFor();
    assert.match(await assistant(page).locator(".turn-status").textContent(), /^Failed: Cannot reach the server/);
    await shot(page, "13-server-gone.png");
    await context.close();
  });
});
