// For you: sign in with a token from `exstreamly token create`, then the viewer's own data: purchases,
// recommendations (`viewer { recommendations }`), saved interests (save / delete) and their alerts,
// listed from `viewer { alerts }` and then pushed live by the `dealAlerts` subscription.
import { useEffect, useState } from "preact/hooks";
import { query, subscribe, token } from "../gql.js";
import { DEAL_ALERTS_LIVE, DELETE_INTEREST, MY_ALERTS, SAVE_INTEREST, VIEWER } from "../queries.js";
import { Empty, ErrorState, Loading, money, pct, useQuery, when } from "../ui.jsx";

function SignIn({ onToken }) {
  const submit = (event) => {
    event.preventDefault();
    onToken(new FormData(event.currentTarget).get("token").toString().trim());
  };
  return (
    <form class="signin" onSubmit={submit} aria-label="Sign in">
      <p>Sign in with a token: <code>exstreamly token create --user 42</code> prints one.</p>
      <label>Token <input name="token" type="password" autocomplete="off" required /></label>
      <button type="submit">Sign in</button>
    </form>
  );
}

function Viewer({ signedIn, signOut }) {
  const { data, error, reload } = useQuery(VIEWER, {}, signedIn);
  if (error) return <><ErrorState error={error} retry={reload} /><button type="button" onClick={signOut}>Sign out</button></>;
  if (!data) return <Loading what="Loading your account" />;
  if (!data.viewer) return <Empty>The API did not recognise a signed-in user. <button type="button" onClick={signOut}>Sign out</button></Empty>;
  const { userId, purchases, recommendations } = data.viewer;
  return (
    <>
      <p class="viewer" data-user-id={userId}>Signed in as user <strong>{userId}</strong>. <button type="button" class="link" onClick={signOut}>Sign out</button></p>
      <section class="panel" aria-labelledby="mine">
        <h2 id="mine">Your purchases</h2>
        {purchases.length ? (
          <table class="mine">
            <thead><tr><th scope="col">When</th><th scope="col">Deal</th><th scope="col">Merchant</th><th scope="col">Units</th><th scope="col">Amount</th></tr></thead>
            <tbody>{purchases.map((p) => (
              <tr key={p.id} data-purchase-id={p.id}><td>{when(p.at)}</td>
                <td><a href={`/deal/${encodeURIComponent(p.dealId)}`}>{p.dealTitle ?? p.dealId}</a></td>
                <td>{p.merchantName ?? "–"}</td><td>{p.quantity}</td><td>{money(p.amount)}</td></tr>
            ))}</tbody>
          </table>
        ) : <Empty>No purchases in the last three months.</Empty>}
      </section>
      <section class="panel" aria-labelledby="recs">
        <h2 id="recs">Recommended for you</h2>
        {recommendations.length ? (
          <ol class="recs">{recommendations.map((r) => (
            <li key={r.deal.id} data-recommended-id={r.deal.id}>
              <a href={`/deal/${encodeURIComponent(r.deal.id)}`}>{r.deal.title}</a> {money(r.deal.price)}
              {r.deal.merchantName ? ` at ${r.deal.merchantName}` : ""} <small>({r.reason})</small></li>
          ))}</ol>
        ) : <Empty>No recommendations yet: they appear after the next training (batch/recommend_job.py).</Empty>}
      </section>
      <Alerts />
    </>
  );
}

const number = (form, key, scale = 1) => (form.get(key) ? Number(form.get(key)) / scale : null);

/** The `saveInterest` input a filled-in form describes (the API validates it and names a bad field). */
function interestInput(form) {
  const keywords = form.get("keywords").toString().split(",").map((k) => k.trim()).filter(Boolean);
  return { category: form.get("category").toString().trim() || null, maxPrice: number(form, "maxPrice"),
           minDiscount: number(form, "minDiscount", 100), minVerifiedDiscount: number(form, "minVerified", 100),
           keywords: keywords.length ? keywords : null, delivery: form.get("delivery").toString() };
}

function InterestForm({ onSaved }) {
  const [error, setError] = useState(null);
  const submit = (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    query(SAVE_INTEREST, { input: interestInput(new FormData(form)) }).then(
      () => { setError(null); form.reset(); onSaved(); }, setError);
  };
  return (
    <form class="interest-form" onSubmit={submit} aria-label="Save an interest">
      <label>Category <input name="category" placeholder="e.g. restaurants" /></label>
      <label>Price up to ($) <input name="maxPrice" type="number" min="0" step="any" /></label>
      <label>Discount from (%) <input name="minDiscount" type="number" min="0" max="100" /></label>
      <label>Verified discount from (%) <input name="minVerified" type="number" min="0" max="100" /></label>
      <label>Keywords <input name="keywords" placeholder="comma separated" /></label>
      <label>Delivery
        <select name="delivery"><option value="INSTANT">instant</option><option value="HOURLY">hourly digest</option>
          <option value="DAILY">daily digest</option></select>
      </label>
      <button type="submit">Save interest</button>
      {error ? <ErrorState error={error} /> : null}
    </form>
  );
}

function describe(interest) {
  const parts = [interest.category ?? "any category"];
  if (interest.maxPrice != null) parts.push(`up to ${money(interest.maxPrice)}`);
  if (interest.minDiscount != null) parts.push(`${pct(interest.minDiscount)} off or more`);
  if (interest.minVerifiedDiscount != null) parts.push(`${pct(interest.minVerifiedDiscount)} verified or more`);
  if (interest.keywords.length) parts.push(`“${interest.keywords.join(", ")}”`);
  return `${parts.join(", ")} (${interest.delivery.toLowerCase()})`;
}

function AlertRows({ alerts }) {
  if (!alerts.length) return <Empty>No alerts yet: they appear here the moment a deal matches one of your interests.</Empty>;
  return (
    <table class="alerts">
      <thead><tr><th scope="col">When</th><th scope="col">Deal</th><th scope="col">Price</th><th scope="col">Why</th></tr></thead>
      <tbody>{alerts.map((a) => (
        <tr key={a.id} data-alert-id={a.id}><td>{when(a.alertAt)}</td>
          <td><a href={`/deal/${encodeURIComponent(a.dealId)}`}>{a.title ?? a.dealId}</a></td>
          <td>{money(a.price)}{a.previousPrice != null ? <> <s>{money(a.previousPrice)}</s></> : null}</td>
          <td>{a.reason}</td></tr>
      ))}</tbody>
    </table>
  );
}

function Alerts() {
  const [version, setVersion] = useState(0);
  const { data, error, reload } = useQuery(MY_ALERTS, {}, version);
  const [live, setLive] = useState([]);
  const [liveError, setLiveError] = useState(null);
  useEffect(() => {  // once listed, push what arrives after the newest listed alert
    if (!data?.viewer) return undefined;
    setLive([]);
    const after = data.viewer.alerts.nodes[0]?.cursor ?? null;
    return subscribe(DEAL_ALERTS_LIVE, { after }, {
      onData: ({ dealAlerts }) => setLive((shown) => [...dealAlerts.alerts.filter((a) => !shown.some((s) => s.id === a.id)), ...shown]),
      onError: setLiveError,
    });
  }, [data]);
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!data?.viewer) return <Loading what="Loading your interests" />;
  const { interests, alerts } = data.viewer;
  const remove = (id) => query(DELETE_INTEREST, { id }).then(() => setVersion((n) => n + 1), setLiveError);
  return (
    <section class="panel" aria-labelledby="alerts">
      <h2 id="alerts">Your interests and alerts</h2>
      {interests.length
        ? <ul class="interests">{interests.map((i) => (
            <li key={i.id} data-interest-id={i.id}>{describe(i)}{" "}
              <button type="button" class="link" onClick={() => remove(i.id)}>Delete</button></li>))}</ul>
        : <Empty>No saved interests: save one below and matching deals are sent to you as they appear.</Empty>}
      <InterestForm onSaved={() => setVersion((n) => n + 1)} />
      {liveError ? <ErrorState error={liveError} /> : null}
      <AlertRows alerts={[...live, ...alerts.nodes]} />
    </section>
  );
}

export function ForYouPage() {
  const [signedIn, setSignedIn] = useState(token.get());
  const change = (value) => { token.set(value); setSignedIn(value || null); };
  return (
    <div>
      <h1>For you</h1>
      {signedIn ? <Viewer signedIn={signedIn} signOut={() => change(null)} /> : <SignIn onToken={change} />}
    </div>
  );
}
