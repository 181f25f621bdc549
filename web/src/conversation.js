// A conversation as the page keeps it (in localStorage, as JSON) and how it becomes a Responses request:
//   { id, title, created, updated, turns: [turn...] }, where a turn is
//   { role: "user", text } | { role: "tool", call_id, name, output } (the user's answer to a function call) |
//   { role: "assistant", items: [output items as the server sent them], status, error, usage, stats }.
// Every request replays the whole conversation as input items (with store: false), so a conversation outlives the
// server's memory of it: a restarted server, or one without --store, continues it all the same.

export function newConversation() {
  const now = Date.now();
  return { id: `c${now.toString(36)}${Math.random().toString(36).slice(2, 8)}`, title: "New conversation",
           created: now, updated: now, turns: [] };
}

export function newAssistantTurn() {
  return { role: "assistant", items: [], status: "streaming", error: "", usage: null,
           stats: { started: performance.now(), firstToken: 0, deltas: 0, ended: 0, ttft: null, tps: null } };
}

const itemText = (item) => item.content?.map((part) => part.text ?? "").join("") ?? "";

// Applies one streamed event to `turn`; returns the output index it changed (-1: the turn as a whole).
export function applyEvent(turn, event) {
  const index = event.output_index ?? -1;
  const item = index >= 0 ? turn.items[index] : null;
  const delta = () => {
    if (!turn.stats.firstToken) {
      turn.stats.firstToken = performance.now();
      turn.stats.ttft = (turn.stats.firstToken - turn.stats.started) / 1000;
    }
    turn.stats.deltas += 1;
  };
  switch (event.type) {
    case "response.created":
      turn.responseId = event.response?.id;
      return -1;
    case "response.output_item.added":
      turn.items[index] = { ...event.item, text: itemText(event.item) };
      return index;
    case "response.output_item.done":
      turn.items[index] = { ...event.item, text: itemText(event.item) };
      return index;
    case "response.reasoning_text.delta":
    case "response.output_text.delta":
      if (!item) return -1;
      item.text += event.delta;
      delta();
      return index;
    case "response.function_call_arguments.delta":
      if (!item) return -1;
      item.arguments = (item.arguments ?? "") + event.delta;
      delta();
      return index;
    case "response.code_interpreter_call_code.delta":
      if (!item) return -1;
      item.code = (item.code ?? "") + event.delta;
      delta();
      return index;
    case "response.web_search_call.in_progress":
    case "response.web_search_call.searching":
    case "response.web_search_call.completed":
    case "response.code_interpreter_call.in_progress":
    case "response.code_interpreter_call.interpreting":
    case "response.code_interpreter_call.completed":
      if (!item) return -1;
      item.status = event.type.slice(event.type.lastIndexOf(".") + 1);
      return index;
    case "response.completed":
    case "response.incomplete":
    case "response.failed":
      finish(turn, event.response);
      return -1;
    case "error": // OpenAI's stream-level error event
      turn.status = "failed";
      turn.error = event.message ?? event.error?.message ?? "the server reported an error";
      return -1;
    default:
      return -2; // nothing the page shows (content parts, *.done events whose data the items already hold, ...)
  }
}

function finish(turn, response) {
  turn.status = response?.status ?? "failed";
  if (turn.status === "failed") turn.error = response?.error?.message ?? "the response failed";
  turn.usage = response?.usage ?? null;
  const stats = turn.stats;
  stats.ended = performance.now();
  const tokens = turn.usage?.output_tokens ?? stats.deltas;
  // The decode rate, as the CLI's Decode TPS: tokens after the first over the time they took. When the text came
  // in one piece (the server holds back text it cannot place yet) that time says nothing: then the rate is end to
  // end, from the request.
  const streamed = stats.deltas > 1 && stats.ended - stats.firstToken > 50;
  const seconds = (stats.ended - (streamed ? stats.firstToken : stats.started)) / 1000;
  if (stats.firstToken && tokens > 0 && seconds > 0) stats.tps = (streamed ? tokens - 1 : tokens) / seconds;
}

// The live rate while a reply streams (deltas are about one token each).
export function liveRate(turn) {
  const stats = turn.stats;
  if (!stats.firstToken || stats.deltas < 2) return null;
  const seconds = (performance.now() - stats.firstToken) / 1000;
  return seconds > 0 ? (stats.deltas - 1) / seconds : null;
}

// The conversation as Responses input items. Built-in tool calls are left out: the server does not render them
// (their answers are not in the items), and their findings live on in the reply that followed.
export function inputItems(conversation) {
  const input = [];
  for (const turn of conversation.turns) {
    if (turn.role === "user") {
      input.push({ type: "message", role: "user", content: turn.text });
    } else if (turn.role === "tool") {
      input.push({ type: "function_call_output", call_id: turn.call_id, output: turn.output });
    } else {
      for (const item of turn.items) {
        if (!item) continue;
        if (item.type === "reasoning" && item.text) {
          input.push({ type: "reasoning", content: [{ type: "reasoning_text", text: item.text }] });
        } else if (item.type === "message" && item.text) {
          input.push({ type: "message", role: "assistant", content: [{ type: "output_text", text: item.text }] });
        } else if (item.type === "function_call" && item.status === "completed") {
          input.push({ type: "function_call", call_id: item.call_id, name: item.name, arguments: item.arguments });
        }
      }
    }
  }
  return input;
}

// The function call that ends the conversation and still waits for the user's answer, or null.
export function pendingCall(conversation) {
  const last = conversation.turns.at(-1);
  if (last?.role !== "assistant") return null;
  const call = last.items.findLast((item) => item?.type === "function_call");
  return call && call.status === "completed" ? call : null;
}

// The request body for the next reply, from the page's settings; throws an Error naming a bad setting.
export function requestBody(conversation, settings) {
  const body = { input: inputItems(conversation), stream: true, store: false,
                 reasoning: { effort: settings.effort || "medium" } };
  if (settings.instructions?.trim()) body.instructions = settings.instructions;
  if (settings.temperature !== "" && settings.temperature != null) body.temperature = Number(settings.temperature);
  if (settings.maxOutputTokens !== "" && settings.maxOutputTokens != null) {
    body.max_output_tokens = Number(settings.maxOutputTokens);
  }
  const tools = [];
  if (settings.browser) tools.push({ type: "web_search" });
  if (settings.python) tools.push({ type: "code_interpreter", container: { type: "auto" } });
  if (settings.functionEnabled) tools.push(functionTool(settings));
  if (tools.length) body.tools = tools;
  return body;
}

function functionTool(settings) {
  const name = (settings.functionName ?? "").trim();
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new Error("The function tool needs a name of 1 to 64 letters, digits, _ or -.");
  }
  let parameters;
  try {
    parameters = JSON.parse(settings.functionSchema?.trim() || "{}");
  } catch (error) {
    throw new Error(`The function tool's JSON Schema is not valid JSON: ${error.message}`);
  }
  if (typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    throw new Error("The function tool's JSON Schema must be an object.");
  }
  return { type: "function", name, description: settings.functionDescription ?? "", parameters };
}

// A title from the first user message.
export function titleOf(conversation) {
  const first = conversation.turns.find((turn) => turn.role === "user");
  if (!first) return "New conversation";
  const line = first.text.trim().split("\n")[0];
  return line.length > 48 ? `${line.slice(0, 47)}…` : line || "New conversation";
}
