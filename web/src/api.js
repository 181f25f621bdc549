// The server's Responses API as the page uses it: one streamed POST /v1/responses, read as server-sent events, and
// the ways it can fail told apart (no server, a refusal with the server's own message, a stream cut short).
// URLs are relative, so the page also works behind a proxy that serves the server under a path.

export class ServerUnreachable extends Error {
  constructor(cause) {
    super(`Cannot reach the server at ${location.origin}: is \`tritonllm serve\` still running? (${cause})`);
    this.name = "ServerUnreachable";
  }
}

export class ServerRefused extends Error {
  constructor(status, message, retryAfter) {
    const hint = status === 429 && retryAfter ? ` Try again in ${retryAfter} s.` : "";
    super(`The server refused the request (HTTP ${status}): ${message}${hint}`);
    this.name = "ServerRefused";
    this.status = status;
  }
}

export class StreamCut extends Error {
  constructor() {
    super("The connection to the server was lost before the reply ended.");
    this.name = "StreamCut";
  }
}

function headers(apiKey, json) {
  const out = {};
  if (json) out["Content-Type"] = "application/json";
  if (apiKey) out.Authorization = `Bearer ${apiKey}`;
  return out;
}

async function send(path, init) {
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ServerUnreachable(error.message);
  }
  if (!response.ok) {
    let message = response.statusText || "no reason given";
    try {
      const body = await response.json();
      message = body?.error?.message ?? message;
    } catch {
      // not OpenAI's error object: the status says enough
    }
    throw new ServerRefused(response.status, message, response.headers.get("Retry-After"));
  }
  return response;
}

// The served model's name; throws ServerRefused with status 401 when the server wants a key.
export async function servedModel(apiKey) {
  const response = await send("v1/models", { headers: headers(apiKey, false) });
  const list = await response.json();
  return list?.data?.[0]?.id ?? "";
}

// Starts a streamed response; the events come from events(response, signal).
export function createResponse(body, apiKey, signal) {
  return send("v1/responses", { method: "POST", headers: headers(apiKey, true), body: JSON.stringify(body), signal });
}

// Each event's JSON, in order. Comment lines (the server's keep-alives) are skipped.
export async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new StreamCut();
    }
    if (chunk.done) break;
    buffer += chunk.value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5)).join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}
