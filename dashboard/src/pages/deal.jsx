// One deal: details, merchant, where it is on the map, whether its discount is real (the score and
// the other sellers of the same item), its reviews and the prices the platform observed.
import { LineChart } from "../chart.jsx";
import { UsMap } from "../lazy.jsx";
import { DEAL } from "../queries.js";
import { Empty, ErrorState, Loading, money, pct, useQuery, when } from "../ui.jsx";

function Merchant({ merchant, online }) {
  if (!merchant) return <p>No merchant details.</p>;
  const place = [merchant.address, merchant.locality, merchant.region, merchant.postalCode, merchant.country]
    .filter(Boolean).join(", ");
  return (
    <dl class="facts">
      <dt>Name</dt><dd>{merchant.name ?? "–"}</dd>
      <dt>Address</dt><dd>{online ? "online" : place || "–"}</dd>
      {merchant.phone ? <><dt>Phone</dt><dd>{merchant.phone}</dd></> : null}
      {merchant.url ? <><dt>Web</dt><dd><a href={merchant.url} rel="noopener noreferrer" target="_blank">{merchant.url}</a></dd></> : null}
    </dl>
  );
}

function PriceHistory({ history }) {
  if (!history.length) return <Empty>No prices observed yet.</Empty>;
  const oldestFirst = [...history].reverse();
  const data = [oldestFirst.map((p) => Date.parse(p.observedAt) / 1000), oldestFirst.map((p) => p.price),
                oldestFirst.map((p) => p.value)];
  const lowest = Math.min(...history.map((p) => p.price));
  return (
    <>
      {history.length > 1
        ? <LineChart data={data} series={["price", "claimed value"]} stepped yLabel="$"
                     label={`Price history: ${history.length} observed prices, lowest ${money(lowest)}`} />
        : <p>One observed price so far; the chart starts with the second.</p>}
      <table class="history">
        <caption>Observed prices, newest first (lowest {money(lowest)})</caption>
        <thead><tr><th scope="col">Observed</th><th scope="col">Price</th><th scope="col">Claimed value</th><th scope="col">Discount</th></tr></thead>
        <tbody>{history.map((p) => (
          <tr key={p.observedAt}><td>{when(p.observedAt)}</td><td>{money(p.price)}</td><td>{money(p.value)}</td><td>{pct(p.discountPct)}</td></tr>
        ))}</tbody>
      </table>
    </>
  );
}

// Plain words for the API's enums (Deal.score.referenceKind, Deal.score.flags).
const REFERENCE = {
  PRIOR_30_DAY_LOW: "its own lowest price in the 30 days before this one",
  STREET_PRICE: "the median price of the same item at other sellers",
  AREA_COMPARABLE: "the median price of comparable offers in the same category and area",
  CLAIMED_VALUE: "the merchant's own claimed value: nothing else to check it against",
};
const FLAGS = {
  INFLATED_VALUE: "Inflated value", RAISED_BEFORE_DISCOUNT: "Price raised before the discount",
  PERPETUAL_SALE: "Perpetual sale", NEW_HISTORIC_LOW: "New historic low", LOWEST_IN_90_DAYS: "Lowest in 90 days",
  ENDS_SOON: "Ends soon", LIKELY_TO_SELL_OUT: "Likely to sell out",
};

function Verdict({ score }) {
  if (!score) return <Empty>Not checked yet: the verdict appears once the pipeline has scored this price.</Empty>;
  return (
    <div class={`verdict ${score.isGenuine ? "genuine" : "not-genuine"}`} data-genuine={String(score.isGenuine)}>
      <p class="verdict-line">
        <strong>{score.isGenuine ? "A genuine discount" : "Not the discount it claims"}</strong>:{" "}
        <span class="verified-pct">{pct(score.verifiedDiscountPct)}</span> verified against {money(score.referencePrice)},{" "}
        {pct(score.advertisedDiscountPct)} advertised.
      </p>
      <p class="explanation">{score.explanation}</p>
      <dl class="facts">
        <dt>Compared with</dt><dd data-reference-kind={score.referenceKind}>{REFERENCE[score.referenceKind] ?? score.referenceKind}</dd>
        <dt>Verified saving</dt><dd>{money(score.verifiedSaving)}</dd>
        {score.scoredAt ? <><dt>Checked</dt><dd>{when(score.scoredAt)}</dd></> : null}
      </dl>
      {score.flags.length
        ? <ul class="flags" aria-label="Flags">{score.flags.map((f) => <li key={f} data-flag={f}>{FLAGS[f] ?? f}</li>)}</ul>
        : null}
    </div>
  );
}

function Sellers({ offer, dealId }) {
  if (!offer || offer.sellers.length < 2) return <p>No other seller offers this item.</p>;
  return (
    <table class="sellers">
      <caption>{offer.sellers.length} sellers, {money(offer.lowestPrice)} to {money(offer.highestPrice)}, cheapest first</caption>
      <thead><tr><th scope="col">Seller</th><th scope="col">Deal site</th><th scope="col">Price</th>
        <th scope="col">Claimed value</th><th scope="col">Seen</th></tr></thead>
      <tbody>{offer.sellers.map((s) => (
        <tr key={s.dealId} data-deal-id={s.dealId} class={s.dealId === dealId ? "this" : ""}>
          <td>{s.dealId === dealId
            ? <>{s.merchantName ?? "–"} <small>(this deal)</small></>
            : <a href={`/deal/${encodeURIComponent(s.dealId)}`}>{s.merchantName ?? `deal ${s.dealId}`}</a>}</td>
          <td>{s.providerName ?? "–"}</td><td>{money(s.price)}</td><td>{money(s.value)}</td><td>{when(s.observedAt)}</td>
        </tr>
      ))}</tbody>
    </table>
  );
}

const stars = (n) => "★".repeat(n) + "☆".repeat(5 - n);

function Reviews({ rating, reviews }) {
  return (
    <>
      {rating
        ? <p class="rating">
            <strong>{rating.adjusted.toFixed(1)} / 5</strong> adjusted from {rating.count} verified
            review{rating.count === 1 ? "" : "s"} (mean {rating.mean.toFixed(2)}, category mean {rating.priorMean.toFixed(2)})
            {rating.unverifiedCount ? `; ${rating.unverifiedCount} unverified not counted` : ""}
            <span class="stars-split">{rating.distribution.map((n, i) => `${i + 1}★ ${n}`).join(" · ")}</span>
          </p>
        : <p>No verified-purchase review yet.</p>}
      {reviews.nodes.length
        ? <ol class="reviews">{reviews.nodes.map((r) => (
            <li key={r.id} class={r.verified ? "verified" : "unverified"}>
              <span class="stars" aria-label={`${r.stars} of 5 stars`}>{stars(r.stars)}</span>{" "}
              <strong>{r.reviewer ?? "Anonymous"}</strong>
              <span class="badge">{r.verified ? "verified purchase" : "not verified"}</span> <span class="when">{when(r.at)}</span>
              {r.text ? <p>{r.text}</p> : null}
            </li>))}</ol>
        : <Empty>No reviews yet.</Empty>}
    </>
  );
}

export function DealPage({ id }) {
  const { data, error, reload } = useQuery(DEAL, { id }, id);
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading what="Loading the deal" />;
  const deal = data.deal;
  if (!deal) return <Empty>There is no deal with id {id}. It may have expired; <a href="/search">search deals</a>.</Empty>;
  return (
    <article class="deal-page" data-deal-id={deal.id}>
      <p class="crumbs">
        <a href="/search">Search</a>
        {deal.category?.parent ? <> › <a href={`/search?category=${deal.category.parent.slug}`}>{deal.category.parent.name}</a></> : null}
        {deal.category ? <> › <a href={`/search?category=${deal.category.slug}`}>{deal.category.name}</a></> : null}
      </p>
      <h1>{deal.title}</h1>
      <div class="deal-grid">
        <section aria-labelledby="offer">
          <h2 id="offer">The offer</h2>
          <p class="prices big">
            <span class="price">{money(deal.price)}</span> <s>{money(deal.value)}</s>
            <span class="discount">−{pct(deal.discountPct)}</span> <span class="saving">save {money(deal.saving)}</span>
          </p>
          <dl class="facts">
            <dt>Advertised discount</dt>
            <dd>{pct(deal.advertisedDiscountPct)}{deal.isDiscountConsistent === false ? " (does not match price and value)" : ""}</dd>
            <dt>Sold</dt><dd>{deal.numberSold ?? "–"}</dd>
            <dt>Ends</dt><dd>{deal.expiresAt ? when(deal.expiresAt) : "open-ended"}</dd>
            <dt>Provider</dt><dd>{deal.providerName ?? "–"}</dd>
            <dt>Updated</dt><dd>{when(deal.updatedAt)}</dd>
          </dl>
          {deal.description ? <p class="description">{deal.description}</p> : null}
          {deal.finePrint ? <details><summary>Fine print</summary><p>{deal.finePrint}</p></details> : null}
          {deal.untrackedUrl || deal.url ? <p><a href={deal.untrackedUrl ?? deal.url} rel="noopener noreferrer" target="_blank">Go to the offer</a></p> : null}
        </section>
        <section aria-labelledby="merchant">
          <h2 id="merchant">Merchant</h2>
          <Merchant merchant={deal.merchant} online={deal.online} />
          {deal.location
            ? <UsMap pin={deal.location} label={`Map: the deal is at ${deal.location.latitude}, ${deal.location.longitude}`} />
            : <p>Redeemed online: no place on the map.</p>}
        </section>
      </div>
      <section aria-labelledby="truth">
        <h2 id="truth">Is this discount real?</h2>
        <Verdict score={deal.score} />
        <h3>Other sellers of this item</h3>
        <Sellers offer={deal.sameOffer} dealId={deal.id} />
      </section>
      <section aria-labelledby="reviews">
        <h2 id="reviews">Ratings and reviews</h2>
        <Reviews rating={deal.rating} reviews={deal.reviews} />
      </section>
      <section aria-labelledby="history">
        <h2 id="history">Price history</h2>
        <PriceHistory history={deal.priceHistory} />
      </section>
    </article>
  );
}
