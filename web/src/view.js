// The conversation's DOM: one <article> per turn, one element per output item. Items are rendered again whole when
// they change (at most once a frame while a reply streams), which keeps the DOM a function of the turn's data.
import { highlight, renderMarkdown } from "./markdown.js";

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child != null));
  return node;
}

const statusWords = {
  in_progress: "starting…", searching: "searching…", interpreting: "running…", completed: "done",
  incomplete: "not run (cut off)", failed: "failed",
};

function parseArguments(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function webSearchSummary(item) {
  const action = item.action;
  if (!action) return item.status === "failed" ? "Web search (not run)" : "Searching the web…";
  if (action.type === "open_page") return ["Opened ", element("a", { href: action.url, text: action.url })];
  if (action.type === "find") return `Looked for “${action.pattern}” in ${action.url || "the page"}`;
  return `Searched: ${action.query}`;
}

function renderReasoning(node, item, streaming) {
  let details = node.querySelector("details");
  if (!details) {
    details = element("details", { className: "reasoning-details" }, element("summary", {}),
                      element("div", { className: "reasoning-text" }));
    // Open while it streams; closed once the answer starts, unless the user opened or closed it.
    details.open = streaming;
    details.querySelector("summary").addEventListener("click", () => { details.dataset.touched = "1"; });
    node.append(details);
  }
  const done = item.status !== "in_progress";
  details.querySelector("summary").textContent = done ? "Reasoning" : "Reasoning…";
  details.querySelector(".reasoning-text").textContent = item.text;
  if (done && !details.dataset.touched) details.open = false;
}

function renderFunctionCall(node, item, answer) {
  const args = parseArguments(item.arguments ?? "");
  const code = element("pre", {}, element("code", { className: "hljs" }));
  code.firstChild.innerHTML = highlight(args ? JSON.stringify(args, null, 2) : item.arguments ?? "", "json");
  node.replaceChildren(
    element("div", { className: "tool-title" }, element("span", { text: `Function call: ${item.name}` }),
            element("span", { className: "tool-status", text: item.status === "completed" ? "" : "writing…" })),
    code);
  if (answer) node.append(answer);
}

function renderWebSearch(node, item) {
  const summary = webSearchSummary(item);
  node.replaceChildren(element(
    "div", { className: "tool-title" }, element("span", { text: "Web" }),
    element("span", { className: "tool-summary" }, ...(Array.isArray(summary) ? summary : [summary])),
    element("span", { className: "tool-status", text: statusWords[item.status] ?? item.status })));
}

function renderCode(node, item) {
  const code = element("pre", { "aria-label": "Python code" }, element("code", { className: "hljs" }));
  code.firstChild.innerHTML = highlight(item.code ?? "", "python");
  node.replaceChildren(
    element("div", { className: "tool-title" }, element("span", { text: "Python" }),
            element("span", { className: "tool-status", text: statusWords[item.status] ?? item.status })),
    code);
  const logs = (item.outputs ?? []).map((output) => output.logs ?? "").join("");
  if (item.outputs) {
    node.append(element("div", { className: "tool-output-label", text: "Output" }),
                element("pre", { className: "tool-output", "aria-label": "Python output", text: logs || "(none)" }));
  }
}

// Renders `item` into `node` (made when null); returns the node. `answer`: the form under a call waiting for the user.
export function renderItem(node, item, streaming, answer = null) {
  const kind = item.type === "reasoning" ? "reasoning" : item.type === "message" ? "message"
             : item.type === "function_call" ? "tool function" : item.type === "web_search_call" ? "tool web-search"
             : item.type === "code_interpreter_call" ? "tool code" : "other";
  if (!node || node.dataset.kind !== kind) {
    const fresh = element("div", { className: `item ${kind}` });
    fresh.dataset.kind = kind;
    node?.replaceWith(fresh);
    node = fresh;
  }
  if (item.type === "reasoning") renderReasoning(node, item, streaming);
  else if (item.type === "message") node.innerHTML = renderMarkdown(item.text);
  else if (item.type === "function_call") renderFunctionCall(node, item, answer);
  else if (item.type === "web_search_call") renderWebSearch(node, item);
  else if (item.type === "code_interpreter_call") renderCode(node, item);
  else node.textContent = JSON.stringify(item);
  return node;
}

export function formatStats(turn) {
  const stats = turn.stats ?? {};
  const parts = [];
  if (stats.ttft != null) parts.push(`TTFT ${stats.ttft.toFixed(2)} s`);
  if (stats.tps != null) parts.push(`${stats.tps.toFixed(1)} tok/s`);
  if (turn.usage) parts.push(`${turn.usage.output_tokens} tokens`);
  return parts.join(" · ");
}

const endWords = {
  completed: "", incomplete: "Stopped at the token limit.", stopped: "Stopped.", streaming: "",
};

// The line under an assistant turn: how it ended, and its speed.
export function renderFooter(footer, turn) {
  const end = turn.status === "failed" || turn.status === "error" ? `Failed: ${turn.error}` : endWords[turn.status];
  footer.replaceChildren(
    element("span", { className: `turn-status status-${turn.status}`, text: end ?? turn.status }),
    element("span", { className: "turn-stats", text: formatStats(turn) }));
}

export function userTurn(turn) {
  return element("article", { className: "turn user", "aria-label": "You" },
                 element("div", { className: "bubble", text: turn.text }));
}

export function toolTurn(turn) {
  return element("article", { className: "turn tool-answer", "aria-label": `Your answer to ${turn.name}` },
                 element("div", { className: "tool-title", text: `Output of ${turn.name}` }),
                 element("pre", { className: "tool-output", text: turn.output }));
}

export function assistantTurn() {
  const article = element("article", { className: "turn assistant", "aria-label": "Assistant" },
                          element("div", { className: "items" }), element("div", { className: "turn-footer" }));
  return article;
}

// The form under a function call that waits for the user's answer.
export function answerForm(call, onAnswer) {
  const id = `answer-${call.call_id}`;
  const textarea = element("textarea", { id, rows: "3", placeholder: "What the function returns (e.g. JSON)" });
  const form = element("form", { className: "answer" },
                       element("label", { for: id, text: `Your answer as ${call.name} (function_call_output)` }),
                       textarea, element("button", { type: "submit", className: "button primary",
                                                     text: "Send output" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onAnswer(textarea.value);
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  return form;
}

export function conversationEntry(conversation, current, onOpen, onDelete) {
  const open = element("button", { type: "button", className: "conversation-open", text: conversation.title });
  if (current) open.setAttribute("aria-current", "true");
  open.addEventListener("click", () => onOpen(conversation.id));
  const remove = element("button", { type: "button", className: "icon-button conversation-delete",
                                     "aria-label": `Delete “${conversation.title}”`, text: "×" });
  remove.addEventListener("click", () => onDelete(conversation.id));
  return element("li", {}, open, remove);
}
