// Hand-written Responses API streams for the UI states the demo model (random weights) never reaches by itself: tool
// calls and their results, a function call. Events, items, ids and fields follow what the server emits
// (src/server/responses_output.cpp, responses_tool_items.cpp; docs/server.md): sequence numbers from 0, item ids
// made from the response id's hex part and the output index, deltas a few characters each, as tokens come.

const pieces = (text) => text.match(/[\s\S]{1,4}/g) ?? [];

export class ResponseStream {
  // `request`: the body the page sent, echoed into the Response object as the server echoes it.
  constructor(request = {}, id = "resp_5eedf00dcafe0001") {
    this.id = id;
    this.base = id.slice(id.indexOf("_") + 1);
    this.sequence = 0;
    this.output = [];
    this.events = [];
    this.outputTokens = 0;
    this.reasoningTokens = 0;
    this.echo = {
      instructions: request.instructions ?? null, max_output_tokens: request.max_output_tokens ?? null,
      metadata: {}, parallel_tool_calls: true, previous_response_id: null,
      reasoning: { effort: request.reasoning?.effort ?? "medium", summary: null }, store: request.store ?? true,
      temperature: request.temperature ?? 1.0, text: { format: { type: "text" } }, tool_choice: "auto",
      tools: request.tools ?? [], top_p: 1.0, truncation: "disabled",
    };
    this.emit("response.created", { response: this.response("in_progress") });
    this.emit("response.in_progress", { response: this.response("in_progress") });
  }

  emit(type, fields) {
    this.events.push({ type, sequence_number: this.sequence++, ...fields });
  }

  response(status, usage = null) {
    return { id: this.id, object: "response", created_at: 1765000000, status, background: false, error: null,
             incomplete_details: null, model: "gpt-oss-demo", output: structuredClone(this.output), ...this.echo,
             usage, user: null };
  }

  itemId(prefix) {
    return `${prefix}_${this.base}${this.output.length.toString(16).padStart(2, "0")}`;
  }

  where(index, content) {
    return content ? { item_id: this.output[index].id, output_index: index, content_index: 0 }
                   : { item_id: this.output[index].id, output_index: index };
  }

  add(item) {
    this.output.push(item);
    const index = this.output.length - 1;
    this.emit("response.output_item.added", { output_index: index, item: structuredClone(item) });
    return index;
  }

  done(index) {
    this.emit("response.output_item.done", { output_index: index, item: structuredClone(this.output[index]) });
  }

  // A reasoning item (analysis channel) or an assistant message (final channel), streamed in pieces.
  text(kind, text) {
    const reasoning = kind === "reasoning";
    const index = this.add(reasoning
      ? { id: this.itemId("rs"), type: "reasoning", summary: [], content: [], status: "in_progress" }
      : { id: this.itemId("msg"), type: "message", role: "assistant", status: "in_progress", content: [] });
    const part = (sofar) => (reasoning ? { type: "reasoning_text", text: sofar }
                                       : { type: "output_text", text: sofar, annotations: [] });
    this.emit("response.content_part.added", { ...this.where(index, true), part: part("") });
    for (const delta of pieces(text)) {
      this.emit(reasoning ? "response.reasoning_text.delta" : "response.output_text.delta",
                { ...this.where(index, true), delta, ...(reasoning ? {} : { logprobs: [] }) });
      this.outputTokens += 1;
      if (reasoning) this.reasoningTokens += 1;
    }
    this.emit(reasoning ? "response.reasoning_text.done" : "response.output_text.done",
              { ...this.where(index, true), text, ...(reasoning ? {} : { logprobs: [] }) });
    this.emit("response.content_part.done", { ...this.where(index, true), part: part(text) });
    Object.assign(this.output[index], { content: [part(text)], status: "completed" });
    this.done(index);
    return this;
  }

  reasoning(text) {
    return this.text("reasoning", text);
  }

  message(text) {
    return this.text("message", text);
  }

  // A call to a function tool: it ends the response, for the client to answer.
  functionCall(name, args) {
    const callId = `call_${this.base}${this.output.length.toString(16).padStart(2, "0")}`;
    const index = this.add({ id: this.itemId("fc"), type: "function_call", call_id: callId, name, arguments: "",
                             status: "in_progress" });
    const text = JSON.stringify(args);
    for (const delta of pieces(text)) {
      this.emit("response.function_call_arguments.delta", { ...this.where(index, false), delta });
      this.outputTokens += 1;
    }
    this.emit("response.function_call_arguments.done", { ...this.where(index, false), arguments: text });
    Object.assign(this.output[index], { arguments: text, status: "completed" });
    this.done(index);
    return this;
  }

  // A web_search_call: `action` is {type: "search", query} | {type: "open_page", url} | {type: "find", pattern, url}.
  // Events up to `searching` come before the tool runs; `pause` marks where a slow stream may wait.
  webSearch(action, { pause = false } = {}) {
    const index = this.add({ id: this.itemId("ws"), type: "web_search_call", status: "in_progress" });
    this.emit("response.web_search_call.in_progress", this.where(index, false));
    this.outputTokens += 8;
    this.output[index].status = "searching";
    this.emit("response.web_search_call.searching", this.where(index, false));
    if (pause) this.events.push({ pause: true });
    Object.assign(this.output[index], { status: "completed", action });
    this.emit("response.web_search_call.completed", this.where(index, false));
    this.done(index);
    return this;
  }

  codeInterpreter(code, logs, { pause = false } = {}) {
    const index = this.add({ id: this.itemId("ci"), type: "code_interpreter_call", status: "in_progress", code: "",
                             outputs: null, container_id: `bwrap_${this.base}` });
    this.emit("response.code_interpreter_call.in_progress", this.where(index, false));
    for (const delta of pieces(code)) {
      this.emit("response.code_interpreter_call_code.delta", { ...this.where(index, false), delta });
      this.outputTokens += 1;
    }
    Object.assign(this.output[index], { code, status: "interpreting" });
    this.emit("response.code_interpreter_call_code.done", { ...this.where(index, false), code });
    this.emit("response.code_interpreter_call.interpreting", this.where(index, false));
    if (pause) this.events.push({ pause: true });
    Object.assign(this.output[index], { status: "completed", outputs: [{ type: "logs", logs }] });
    this.emit("response.code_interpreter_call.completed", this.where(index, false));
    this.done(index);
    return this;
  }

  complete(inputTokens = 180) {
    const usage = { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 },
                    output_tokens: this.outputTokens,
                    output_tokens_details: { reasoning_tokens: this.reasoningTokens },
                    total_tokens: inputTokens + this.outputTokens };
    this.emit("response.completed", { response: this.response("completed", usage) });
    return this;
  }

  // The stream as the server writes it, in parts split where a pause was marked.
  parts() {
    const out = [""];
    for (const event of this.events) {
      if (event.pause) out.push("");
      else out[out.length - 1] += `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
    }
    return out;
  }

  body() {
    return this.parts().join("");
  }
}
