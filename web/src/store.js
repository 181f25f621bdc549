// What the page keeps in the browser's localStorage: the conversations (newest first), which one is open, the
// settings, and the API key the server asked for. Storage can be full or refused (private windows): the page then
// works on without keeping anything, and says so once.

const keys = { conversations: "tritonllm.conversations", current: "tritonllm.current", settings: "tritonllm.settings",
               apiKey: "tritonllm.apiKey" };
const kMaxConversations = 100;

export const defaultSettings = Object.freeze({
  effort: "medium", browser: false, python: false, instructions: "", temperature: "", maxOutputTokens: "",
  functionEnabled: false, functionName: "get_weather", functionDescription: "Current weather in a city.",
  functionSchema: JSON.stringify({ type: "object", properties: { city: { type: "string" } }, required: ["city"] },
                                 null, 2),
});

function read(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

// false when the storage refuses (full, or not allowed).
function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

export function loadConversations() {
  const list = read(keys.conversations, []);
  const valid = Array.isArray(list) ? list.filter((c) => c && typeof c.id === "string" && Array.isArray(c.turns)) : [];
  // A reply still streaming when the page was closed ended there.
  for (const turn of valid.flatMap((c) => c.turns)) if (turn.status === "streaming") turn.status = "stopped";
  return valid;
}

// On a full storage the oldest conversations go first.
export function saveConversations(list) {
  let kept = list.filter((c) => c.turns.length > 0).slice(0, kMaxConversations);
  while (!write(keys.conversations, kept)) {
    if (kept.length <= 1) return false;
    kept = kept.slice(0, -1);
  }
  return true;
}

export const loadCurrentId = () => read(keys.current, null);
export const saveCurrentId = (id) => write(keys.current, id);
export const loadSettings = () => ({ ...defaultSettings, ...read(keys.settings, {}) });
export const saveSettings = (settings) => write(keys.settings, settings);
export const loadApiKey = () => read(keys.apiKey, "");
export const saveApiKey = (key) => write(keys.apiKey, key);
