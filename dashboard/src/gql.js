// The dashboard's only way to the platform: GraphQL over HTTP POST and graphql-transport-ws.
import { createClient } from "graphql-ws";

const ENDPOINT = "/graphql";
const TOKEN_KEY = "exstreamly-token";

/** The bearer token the shopper signed in with (kept for this browser tab only). */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    resetLive();  // the live connection authenticated with the old token in its connection_init
  },
};
const bearer = () => (token.get() ? { authorization: `Bearer ${token.get()}` } : {});

/** A failed request, classified for the page: "api-down", "store-down", "input" or "error". */
export class GqlError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function classify(errors) {
  const codes = errors.map((e) => e.extensions?.code);
  if (codes.includes("STORE_UNAVAILABLE")) return new GqlError("store-down", errors[0].message);
  if (codes.includes("BAD_USER_INPUT")) return new GqlError("input", errors.map((e) => e.message).join("; "));
  return new GqlError("error", errors.map((e) => e.message).join("; "));
}

/** Run a query; resolves to `data` or rejects with a GqlError. */
export async function query(document, variables = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST", signal,
      headers: { "content-type": "application/json", accept: "application/json",
                 ...bearer() },
      body: JSON.stringify({ query: document, variables }),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new GqlError("api-down", "The API cannot be reached.");
  }
  if (response.status === 401) throw new GqlError("auth", "The API did not accept this token.");
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GqlError(response.status >= 500 ? "api-down" : "error", `The API answered HTTP ${response.status}.`);
  }
  if (body.errors?.length) throw classify(body.errors);
  return body.data;
}

let wsClient = null;
const statusListeners = new Set();
const emit = (status) => statusListeners.forEach((listener) => listener(status));

/** `listener("connected" | "closed")` on every change of the live connection; returns the remover. */
export function onLiveStatus(listener) {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}

function ws() {
  if (!wsClient) {
    const url = new URL(ENDPOINT, window.location.href).href.replace(/^http/, "ws");
    wsClient = createClient({
      url, lazy: true, retryAttempts: Infinity, shouldRetry: () => true,
      connectionParams: bearer,  // read at each (re)connect: the token of the moment
      retryWait: (n) => new Promise((r) => setTimeout(r, Math.min(500 * 2 ** n, 5000))),
      on: { connected: () => emit("connected"), closed: () => emit("closed") },
    });
  }
  return wsClient;
}

function resetLive() {
  wsClient?.dispose();
  wsClient = null;
}

/** Subscribe; `onData(data)` per message, `onError(GqlError)` on failure. Returns the unsubscribe function. */
export function subscribe(document, variables, { onData, onError }) {
  return ws().subscribe({ query: document, variables }, {
    next: (msg) => (msg.errors?.length ? onError(classify(msg.errors)) : onData(msg.data)),
    error: (err) => onError(Array.isArray(err) ? classify(err) : new GqlError("api-down", "The live connection to the API was lost.")),
    complete: () => {},
  });
}
