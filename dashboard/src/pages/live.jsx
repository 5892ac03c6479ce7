// Live: trending categories pushed over graphql-transport-ws (10 s, 1 min, 1 h), sales per second,
// the purchase feed and the top sellers of a category (polled queries).
import { useEffect, useRef, useState } from "preact/hooks";
import { useCategories } from "../categories.jsx";
import { LineChart } from "../chart.jsx";
import { onLiveStatus, query, subscribe } from "../gql.js";
import { LIVE, TRENDING_LIVE } from "../queries.js";
import { navigate } from "../router.js";
import { Empty, ErrorState, Loading, clock, money } from "../ui.jsx";

const WINDOWS = [["TEN_SECONDS", "Last 10 seconds"], ["ONE_MINUTE", "Last minute"], ["ONE_HOUR", "Last hour"]];
const POLL_MS = 2000;
const HISTORY = 120;
const CHARTED = 5;

/** The latest pushed `trending` of one window, and (for the charted window) a short history. */
function useTrending(window, keepHistory) {
  const [state, setState] = useState({ rows: null, error: null, history: [] });
  useEffect(() => subscribe(TRENDING_LIVE, { window }, {
    onData: (data) => setState((s) => ({
      rows: data.trending, error: null,
      history: keepHistory ? [...s.history, { t: Date.now() / 1000, rows: data.trending }].slice(-HISTORY) : [],
    })),
    onError: (error) => setState((s) => ({ ...s, error })),
  }), [window]);
  return state;
}

function TrendTable({ window, title, rows, error }) {
  let body;
  if (error) body = <ErrorState error={error} />;
  else if (!rows) body = <Loading what="Waiting for the first update" />;
  else if (!rows.length) body = <Empty>No activity in this window.</Empty>;
  else {
    body = (
      <table class="trend" data-window={window}>
        <thead><tr><th scope="col">Category</th><th scope="col">Score</th><th scope="col">Views</th>
          <th scope="col">Clicks</th><th scope="col">Buys</th></tr></thead>
        <tbody>{rows.map((r) => (
          <tr key={r.slug} data-slug={r.slug} data-score={r.score}>
            <th scope="row">{r.name}</th><td>{r.score}</td><td>{r.views}</td><td>{r.clicks}</td><td>{r.purchases}</td>
          </tr>
        ))}</tbody>
      </table>
    );
  }
  return <section class="panel" aria-label={`Trending: ${title}`}><h2>{title}</h2>{body}</section>;
}

function TrendChart({ history }) {
  if (history.length < 2) return <Loading what="Collecting updates for the chart" />;
  const latest = history[history.length - 1].rows.slice(0, CHARTED).map((r) => r.slug);
  if (!latest.length) return <Empty>Nothing to chart: no activity in the last 10 seconds.</Empty>;
  const data = [history.map((h) => h.t),
                ...latest.map((slug) => history.map((h) => h.rows.find((r) => r.slug === slug)?.score ?? 0))];
  return <LineChart data={data} series={latest} yLabel="score"
                    label={`Trend scores of the top ${latest.length} categories over the last ${history.length} updates`} />;
}

function useLive(category) {
  const [state, setState] = useState({ data: null, error: null });
  const vars = useRef(category);
  vars.current = category;
  useEffect(() => {
    if (!category) return undefined;
    let alive = true;
    const tick = () => query(LIVE, { category: vars.current }).then(
      (data) => alive && setState({ data, error: null }),
      (error) => alive && setState((s) => ({ data: s.data, error })),
    );
    tick();
    const timer = setInterval(tick, POLL_MS);
    return () => { alive = false; clearInterval(timer); };
  }, [category]);
  return state;
}

function Sales({ timeline }) {
  const total = timeline.reduce((n, s) => n + s.purchases, 0);
  const data = [timeline.map((s) => Date.parse(s.at) / 1000), timeline.map((s) => s.purchases), timeline.map((s) => s.units)];
  return (
    <section class="panel wide" aria-label="Sales per second">
      <h2>Sales per second</h2>
      <p>{total} purchases, {money(timeline.reduce((n, s) => n + s.revenue, 0))} in the last {timeline.length} seconds.</p>
      <LineChart data={data} series={["purchases", "units"]} height={180} yLabel="per second"
                 label={`Purchases and units per second over the last ${timeline.length} seconds: ${total} purchases`} />
    </section>
  );
}

function Feed({ purchases }) {
  return (
    <section class="panel" aria-label="Purchase feed">
      <h2>Purchase feed</h2>
      {purchases.length ? (
        <ol class="feed">{purchases.map((p) => (
          <li key={p.id} data-purchase-id={p.id}><time dateTime={p.at}>{clock(p.at)}</time> <strong>{p.buyer ?? "Someone"}</strong>
            {p.city ? ` in ${p.city}` : ""} bought {p.quantity > 1 ? `${p.quantity} × ` : ""}
            <a href={`/deal/${encodeURIComponent(p.dealId)}`}>{p.dealTitle ?? `deal ${p.dealId}`}</a> for {money(p.amount)}</li>
        ))}</ol>
      ) : <Empty>No purchases in the last ten minutes.</Empty>}
    </section>
  );
}

function TopSellers({ sellers, category, categories }) {
  const choose = (event) => navigate(`/live?category=${encodeURIComponent(event.currentTarget.value)}`, { replace: true });
  return (
    <section class="panel" aria-label="Top sellers today">
      <h2>Top sellers today</h2>
      <label>Category{" "}
        <select value={category} onChange={choose}>
          {(categories ?? []).map((top) => <option value={top.slug} key={top.slug}>{top.name}</option>)}
        </select>
      </label>
      {sellers.length ? (
        <table class="sellers">
          <thead><tr><th scope="col">Merchant</th><th scope="col">Units</th><th scope="col">Revenue</th></tr></thead>
          <tbody>{sellers.map((m) => <tr key={m.id}><td>{m.name ?? m.id}</td><td>{m.units}</td><td>{money(m.revenue)}</td></tr>)}</tbody>
        </table>
      ) : <Empty>Nothing bought in this category today.</Empty>}
    </section>
  );
}

function LiveStatus() {
  const [status, setStatus] = useState("connecting");
  useEffect(() => onLiveStatus(setStatus), []);
  if (status === "connected") return <p class="live-status on" role="status"><span aria-hidden="true">●</span> live</p>;
  return <p class="live-status off" role="status">{status === "closed" ? "Live connection lost, reconnecting…" : "Connecting…"}</p>;
}

export function LivePage({ params }) {
  const { categories } = useCategories();
  const category = params.get("category") || categories?.[0]?.slug || "";
  const trends = [useTrending("TEN_SECONDS", true), useTrending("ONE_MINUTE", false), useTrending("ONE_HOUR", false)];
  const live = useLive(category);
  return (
    <div class="live-page">
      <h1>Live</h1>
      <LiveStatus />
      <div class="panels">
        {WINDOWS.map(([window, title], i) => <TrendTable key={window} window={window} title={title} {...trends[i]} />)}
      </div>
      <section class="panel wide" aria-label="Trend chart"><h2>Top categories, last 10 seconds</h2><TrendChart history={trends[0].history} /></section>
      {live.error && !live.data ? <ErrorState error={live.error} /> : null}
      {live.data ? (
        <>
          {live.error ? <ErrorState error={live.error} /> : null}
          <Sales timeline={live.data.salesTimeline} />
          <div class="panels two">
            <Feed purchases={live.data.purchaseFeed} />
            <TopSellers sellers={live.data.topSellers} category={category} categories={categories} />
          </div>
        </>
      ) : !live.error ? <Loading what="Loading sales" /> : null}
    </div>
  );
}
