// For you: sign in with a token from `exstreamly token create`, then the viewer's own data.
// Recommendations come from `viewer { recommendations }`; alerts appear here once the API serves them.
import { useState } from "preact/hooks";
import { token } from "../gql.js";
import { VIEWER } from "../queries.js";
import { Empty, ErrorState, Loading, money, useQuery, when } from "../ui.jsx";

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
        <p>Alerts for your saved interests appear here once the API serves them.</p>
      </section>
    </>
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
