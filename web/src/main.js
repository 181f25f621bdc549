// The chat page: wires the conversation (conversation.js), the server (api.js), storage (store.js) and the DOM
// (view.js). One reply streams at a time; its items are drawn again at most once a frame.
import "./style.css";
import { createResponse, events, servedModel, ServerRefused, StreamCut } from "./api.js";
import { applyEvent, liveRate, newAssistantTurn, newConversation, pendingCall, requestBody,
         titleOf } from "./conversation.js";
import * as store from "./store.js";
import { answerForm, assistantTurn, conversationEntry, renderFooter, renderItem, toolTurn,
         userTurn } from "./view.js";

const $ = (id) => document.getElementById(id);
const ui = {
  messages: $("messages"), empty: $("empty"), prompt: $("prompt"), composer: $("composer"), send: $("send"),
  stop: $("stop"), error: $("error"), errorText: $("error-text"), list: $("conversation-list"),
  ttft: $("ttft"), tps: $("tps"), tokens: $("tokens"), model: $("model-name"), settings: $("settings-form"),
  keyDialog: $("key-dialog"), keyInput: $("api-key"), keyWhy: $("key-why"), storageNote: $("storage-note"),
};

const state = {
  conversations: store.loadConversations(),
  current: null,
  settings: store.loadSettings(),
  apiKey: store.loadApiKey(),
  deleted: new Set(), // ids of conversations deleted in this visit
  live: null, // the streaming reply: { turn, controller, article, nodes, dirty, frame, timer }
};

// --- errors -------------------------------------------------------------------------------------------------------

function showError(message) {
  ui.errorText.textContent = message;
  ui.error.hidden = false;
}
const hideError = () => { ui.error.hidden = true; };
$("error-close").addEventListener("click", () => { hideError(); ui.prompt.focus(); });

// --- the API key --------------------------------------------------------------------------------------------------

// Asks for a key in a modal dialog; resolves with it, or null when the user cancels.
function askKey(why) {
  ui.keyWhy.textContent = why;
  ui.keyInput.value = state.apiKey;
  ui.keyDialog.showModal();
  ui.keyInput.focus();
  return new Promise((resolve) => {
    const done = (key) => {
      ui.keyDialog.removeEventListener("close", closed);
      resolve(key);
    };
    const closed = () => done(ui.keyDialog.returnValue === "save" ? ui.keyInput.value.trim() : null);
    ui.keyDialog.addEventListener("close", closed);
  });
}
$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  ui.keyDialog.close("save");
});
$("key-cancel").addEventListener("click", () => ui.keyDialog.close("cancel"));

async function useKey(why) {
  const key = await askKey(why);
  if (key === null) return false;
  state.apiKey = key;
  store.saveApiKey(key);
  return true;
}

$("change-key").addEventListener("click", async () => {
  if (await useKey("The key sent as Authorization: Bearer KEY (empty: none).")) loadModel();
});

async function loadModel() {
  try {
    ui.model.textContent = await servedModel(state.apiKey);
    hideError();
  } catch (error) {
    if (error instanceof ServerRefused && error.status === 401) {
      if (await useKey(state.apiKey ? "The server did not accept this key." : "This server needs an API key.")) {
        return loadModel();
      }
    }
    showError(error.message);
  }
}

// --- conversations ------------------------------------------------------------------------------------------------

// Saves `conversation` (first in the list) and the list; the open conversation stays the open one.
function persist(conversation = state.current) {
  if (conversation.turns.length > 0 && !state.deleted.has(conversation.id)) {
    conversation.title = titleOf(conversation);
    conversation.updated = Date.now();
    state.conversations = [conversation, ...state.conversations.filter((c) => c.id !== conversation.id)];
  }
  ui.storageNote.hidden = store.saveConversations(state.conversations);
  store.saveCurrentId(state.current.id);
  renderList();
}

function renderList() {
  ui.list.replaceChildren(...state.conversations.map((conversation) => conversationEntry(
    conversation, conversation.id === state.current?.id, openConversation, deleteConversation)));
}

function openConversation(id) {
  if (state.live) stopReply();
  state.current = state.conversations.find((c) => c.id === id) ?? newConversation();
  store.saveCurrentId(state.current.id);
  hideError();
  renderConversation();
  renderList();
  closePanels();
  ui.prompt.focus();
}

function deleteConversation(id) {
  state.deleted.add(id); // a reply it was streaming must not bring it back
  state.conversations = state.conversations.filter((c) => c.id !== id);
  store.saveConversations(state.conversations);
  if (state.current?.id === id) openConversation(null);
  else renderList();
}

function newChat() {
  openConversation(null);
}
$("new-chat").addEventListener("click", newChat);

// --- drawing ------------------------------------------------------------------------------------------------------

// Draws item `index` of a turn into `items` (the turn's .items element), making its node when it has none.
function drawItem(items, index, item, streaming, form = null) {
  while (items.children.length < index) items.append(document.createElement("div"));
  const node = renderItem(items.children[index] ?? null, item, streaming, form);
  if (!node.parentNode) items.append(node);
}

function drawAssistant(article, turn, last) {
  const items = article.querySelector(".items");
  const waiting = last && !state.live ? pendingCall(state.current) : null;
  turn.items.forEach((item, index) => {
    if (!item) return;
    const form = item === waiting ? answerForm(item, (text) => answer(item, text)) : null;
    drawItem(items, index, item, turn.status === "streaming", form);
  });
  renderFooter(article.querySelector(".turn-footer"), turn);
}

function renderConversation() {
  const turns = state.current.turns;
  ui.messages.replaceChildren(ui.empty);
  ui.empty.hidden = turns.length > 0;
  turns.forEach((turn, index) => {
    if (turn.role === "user") ui.messages.append(userTurn(turn));
    else if (turn.role === "tool") ui.messages.append(toolTurn(turn));
    else {
      const article = assistantTurn();
      ui.messages.append(article);
      drawAssistant(article, turn, index === turns.length - 1);
    }
  });
  const last = turns.findLast((turn) => turn.role === "assistant");
  showStats(last ?? null);
  scrollDown(true);
}

function nearBottom() {
  const box = document.scrollingElement;
  return ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 80 ||
         box.scrollHeight - box.scrollTop - box.clientHeight < 80;
}
function scrollDown(force) {
  if (force || nearBottom()) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function showStats(turn) {
  const stats = turn?.stats;
  const rate = turn?.status === "streaming" ? liveRate(turn) : stats?.tps;
  ui.ttft.textContent = stats?.ttft != null ? `${stats.ttft.toFixed(2)} s` : "–";
  ui.tps.textContent = rate != null ? rate.toFixed(1) : "–";
  ui.tokens.textContent = turn?.usage ? String(turn.usage.output_tokens) : stats?.deltas ? String(stats.deltas) : "–";
}

function drawLive() {
  const live = state.live;
  live.frame = 0;
  const stick = nearBottom();
  const items = live.article.querySelector(".items");
  for (const index of live.dirty) {
    if (live.turn.items[index]) drawItem(items, index, live.turn.items[index], true);
  }
  live.dirty.clear();
  showStats(live.turn);
  if (stick) scrollDown(true);
}

// --- a reply ------------------------------------------------------------------------------------------------------

function setStreaming(on) {
  ui.send.hidden = on;
  ui.stop.hidden = !on;
  ui.messages.setAttribute("aria-busy", on ? "true" : "false");
}

async function reply() {
  // The user may open another conversation while this one streams (which stops it): the reply stays with its own.
  const conversation = state.current;
  let body;
  try {
    body = requestBody(conversation, state.settings);
  } catch (error) {
    showError(error.message);
    return;
  }
  hideError();
  const turn = newAssistantTurn();
  conversation.turns.push(turn);
  const article = assistantTurn();
  ui.messages.append(article);
  ui.empty.hidden = true;
  const live = { turn, article, controller: new AbortController(), dirty: new Set(), frame: 0, timer: 0 };
  state.live = live;
  setStreaming(true);
  renderFooter(article.querySelector(".turn-footer"), turn);
  live.timer = setInterval(() => showStats(turn), 250);
  scrollDown(true);
  let retry = false;
  try {
    const response = await createResponse(body, state.apiKey, live.controller.signal);
    for await (const event of events(response)) {
      const index = applyEvent(turn, event);
      if (index >= 0) {
        live.dirty.add(index);
        live.frame ||= requestAnimationFrame(drawLive);
      }
    }
    if (turn.status === "streaming") throw new StreamCut();
  } catch (error) {
    if (error.name === "AbortError") {
      turn.status = "stopped";
    } else if (error instanceof ServerRefused && error.status === 401 && turn.items.length === 0) {
      conversation.turns.pop();
      article.remove();
      retry = await useKey(state.apiKey ? "The server did not accept this key." : "This server needs an API key.");
      if (!retry) showError(error.message);
    } else {
      turn.status = "error";
      turn.error = error.message;
      showError(error.message);
    }
  } finally {
    clearInterval(live.timer);
    if (live.frame) cancelAnimationFrame(live.frame);
    state.live = null;
    setStreaming(false);
  }
  if (retry && state.current === conversation) return reply();
  if (turn.status === "failed") showError(`The server could not finish the reply: ${turn.error}`);
  // Unfinished items of a stopped or cut reply are closed as they stand, so the conversation can go on.
  for (const item of turn.items) if (item?.status === "in_progress") item.status = "incomplete";
  if (state.current === conversation) {
    drawAssistant(article, turn, conversation.turns.at(-1) === turn);
    showStats(turn);
  }
  persist(conversation);
  const form = article.querySelector(".answer textarea");
  (form ?? ui.prompt).focus();
}

function send() {
  if (state.live) return;
  const text = ui.prompt.value.trim();
  if (!text) return;
  ui.prompt.value = "";
  state.current.turns.push({ role: "user", text });
  persist(); // a reload mid-reply keeps the question
  ui.messages.append(userTurn({ text }));
  ui.empty.hidden = true;
  reply();
}

function answer(call, output) {
  if (state.live) return;
  state.current.turns.push({ role: "tool", call_id: call.call_id, name: call.name, output });
  renderConversation();
  reply();
}

function stopReply() {
  state.live?.controller.abort();
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
ui.stop.addEventListener("click", () => {
  stopReply();
  ui.prompt.focus();
});
ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

// --- settings -----------------------------------------------------------------------------------------------------

function fillSettings() {
  for (const field of ui.settings.elements) {
    if (!field.name) continue;
    if (field.type === "checkbox") field.checked = Boolean(state.settings[field.name]);
    else field.value = state.settings[field.name] ?? "";
  }
}
ui.settings.addEventListener("input", (event) => {
  const field = event.target;
  if (!field.name) return;
  state.settings[field.name] = field.type === "checkbox" ? field.checked : field.value;
  store.saveSettings(state.settings);
});
ui.settings.addEventListener("submit", (event) => event.preventDefault());

// --- panels (drawers on narrow screens) ---------------------------------------------------------------------------

function togglePanel(name, button) {
  const open = !document.body.classList.contains(`show-${name}`);
  closePanels();
  document.body.classList.toggle(`show-${name}`, open);
  button.setAttribute("aria-expanded", String(open));
  if (open) document.getElementById(name).querySelector("button, select, input, textarea")?.focus();
}
function closePanels() {
  for (const name of ["sidebar", "settings"]) {
    document.body.classList.remove(`show-${name}`);
    $(`toggle-${name}`).setAttribute("aria-expanded", "false");
  }
}
$("toggle-sidebar").addEventListener("click", (event) => togglePanel("sidebar", event.currentTarget));
$("toggle-settings").addEventListener("click", (event) => togglePanel("settings", event.currentTarget));

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || ui.keyDialog.open) return;
  if (state.live) stopReply();
  else closePanels();
});

// --- start --------------------------------------------------------------------------------------------------------

fillSettings();
openConversation(store.loadCurrentId());
loadModel();
// The tests read this: the page is wired and has drawn the stored conversation.
document.body.dataset.ready = "true";
