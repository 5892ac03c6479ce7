// Shared pieces: formatting, the loading / empty / error states, and a hook that runs a query.
import { useEffect, useState } from "preact/hooks";
import { query } from "./gql.js";

export const money = (n) => (n == null ? "–" : `$${n.toFixed(2)}`);
export const pct = (f) => (f == null ? "–" : `${Math.round(f * 100)}%`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
export const clock = (iso) => new Date(iso).toLocaleTimeString();

export function Loading({ what = "Loading" }) {
  return <p class="state loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true" />{what}…</p>;
}

export function Empty({ children }) {
  return <p class="state empty" role="status">{children}</p>;
}

const HELP = {
  "api-down": ["The API is not answering", "Check that `exstreamly api` (or `./dev run`) is running; this page retries when you reload or change the search."],
  "store-down": ["The deal store is unavailable", "Cassandra is not answering the API right now. The API reconnects by itself; try again in a few seconds."],
  input: ["The API rejected this request", null],
  auth: ["You are not signed in", "The token is invalid or expired; create one with `exstreamly token create --user <id>`."],
  error: ["Something went wrong", null],
};

export function ErrorState({ error, retry }) {
  const [title, help] = HELP[error.kind] ?? HELP.error;
  return (
    <div class={`state error ${error.kind ?? "error"}`} role="alert" data-error-kind={error.kind ?? "error"}>
      <strong>{title}.</strong> {help ?? error.message}
      {help && error.kind !== "api-down" ? <div class="detail">{error.message}</div> : null}
      {retry ? <button type="button" onClick={retry}>Try again</button> : null}
    </div>
  );
}

/** Run `document` with `variables` whenever `key` changes: { data, error, loading, reload }. */
export function useQuery(document, variables, key, { skip = false } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: !skip });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (skip) return undefined;
    const controller = new AbortController();
    setState((s) => ({ data: s.data, error: null, loading: true }));
    query(document, variables, { signal: controller.signal }).then(
      (data) => setState({ data, error: null, loading: false }),
      (error) => error.name !== "AbortError" && setState({ data: null, error, loading: false }),
    );
    return () => controller.abort();
  }, [key, attempt, skip]);
  return { ...state, reload: () => setAttempt((n) => n + 1) };
}

/** Re-run `fn` every `ms` while mounted. */
export function useInterval(fn, ms) {
  useEffect(() => {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  }, [ms]);
}
