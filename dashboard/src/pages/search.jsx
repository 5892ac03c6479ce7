// Search: every filter and sort of `deals`, the state in the URL, cursor paging through `after`.
import { CategoryTree, useCategories } from "../categories.jsx";
import { SEARCH } from "../queries.js";
import { navigate } from "../router.js";
import { Empty, ErrorState, Loading, money, pct, useQuery, when } from "../ui.jsx";

const PAGE_SIZE = 20;
const SORTS = [["BEST_DISCOUNT", "Best discount"], ["CHEAPEST", "Cheapest"], ["BIGGEST_SAVING", "Biggest saving"],
               ["VERIFIED_DISCOUNT", "Best verified discount"], ["BIGGEST_VERIFIED_SAVING", "Biggest verified saving"],
               ["BEST_RATED", "Best rated (one category, no other filter)"], ["NEAREST", "Nearest (needs a place)"]];
const FILTER_KEYS = ["category", "minPrice", "maxPrice", "minDiscount", "minVerified", "lat", "lon", "radius", "online",
                     "text", "sort"];
const VERIFIED_SORTS = ["VERIFIED_DISCOUNT", "BIGGEST_VERIFIED_SAVING"];
const PERCENTS = [10, 20, 30, 40, 50, 60, 70, 80];

/** Record when the first search result was shown (read by the browser tests and the README's number). */
function markFirstResult() {
  if (!performance.getEntriesByName("first-search-result").length) performance.mark("first-search-result");
}

const num = (params, key) => (params.get(key) === null || params.get(key) === "" ? null : Number(params.get(key)));

/** The `deals` arguments the URL describes. */
export function searchVariables(params) {
  const filter = {};
  if (params.get("category")) filter.category = params.get("category");
  for (const key of ["minPrice", "maxPrice"]) if (num(params, key) !== null) filter[key] = num(params, key);
  if (num(params, "minDiscount") !== null) filter.minDiscount = num(params, "minDiscount") / 100;
  if (num(params, "minVerified") !== null) filter.minVerifiedDiscount = num(params, "minVerified") / 100;
  if (num(params, "lat") !== null && num(params, "lon") !== null) {
    filter.near = { lat: num(params, "lat"), lon: num(params, "lon"), radiusKm: num(params, "radius") ?? 25 };
  }
  if (params.get("online") === "true" || params.get("online") === "false") filter.online = params.get("online") === "true";
  if (params.get("text")) filter.text = params.get("text");
  return { filter, sort: params.get("sort") || "BEST_DISCOUNT", first: PAGE_SIZE, after: params.get("after") || null };
}

function hrefWith(params, changes) {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") next.delete(key);
    else next.set(key, value);
  }
  const qs = next.toString();
  return `/search${qs ? `?${qs}` : ""}`;
}

function SearchForm({ params }) {
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const changes = { after: null, page: null };
    for (const key of FILTER_KEYS.filter((k) => k !== "category")) changes[key] = form.get(key)?.toString().trim() ?? null;
    // the API ranks a verified-discount floor only within a verified sort: pick one rather than fail
    if (changes.minVerified && !VERIFIED_SORTS.includes(changes.sort)) changes.sort = "VERIFIED_DISCOUNT";
    navigate(hrefWith(params, changes));
  };
  const resubmit = (event) => event.currentTarget.form.requestSubmit();
  const locate = (event) => {
    const form = event.currentTarget.form;
    navigator.geolocation?.getCurrentPosition((pos) => {
      form.lat.value = pos.coords.latitude.toFixed(4);
      form.lon.value = pos.coords.longitude.toFixed(4);
    });
  };
  const field = (key) => params.get(key) ?? "";
  return (
    <form class="search-form" onSubmit={submit} key={params.toString()} aria-label="Search deals">
      <label class="wide">Text <input type="search" name="text" value={field("text")} placeholder="title or merchant, e.g. pizza" /></label>
      <fieldset>
        <legend>Price ($)</legend>
        <label>from <input type="number" name="minPrice" min="0" step="any" value={field("minPrice")} inputMode="decimal" /></label>
        <label>to <input type="number" name="maxPrice" min="0" step="any" value={field("maxPrice")} inputMode="decimal" /></label>
      </fieldset>
      <label>Minimum discount
        <select name="minDiscount" value={field("minDiscount")} onChange={resubmit}>
          <option value="">any</option>
          {PERCENTS.map((p) => <option value={p}>{p}% or more</option>)}
        </select>
      </label>
      <label>Minimum verified discount
        <select name="minVerified" value={field("minVerified")} onChange={resubmit}>
          <option value="">any</option>
          {PERCENTS.map((p) => <option value={p}>{p}% or more</option>)}
        </select>
      </label>
      <label>Where
        <select name="online" value={field("online")} onChange={resubmit}>
          <option value="">online and local</option>
          <option value="true">online only</option>
          <option value="false">local only</option>
        </select>
      </label>
      <fieldset>
        <legend>Near a place</legend>
        <label>lat <input type="number" name="lat" step="any" min="-90" max="90" value={field("lat")} /></label>
        <label>lon <input type="number" name="lon" step="any" min="-180" max="180" value={field("lon")} /></label>
        <label>km <input type="number" name="radius" step="any" min="1" max="50" value={field("radius")} placeholder="25" /></label>
        <button type="button" class="link" onClick={locate}>Use my location</button>
      </fieldset>
      <label>Sort
        <select name="sort" value={field("sort") || "BEST_DISCOUNT"} onChange={resubmit}>
          {SORTS.map(([value, label]) => <option value={value}>{label}</option>)}
        </select>
      </label>
      <button type="submit">Search</button>
    </form>
  );
}

export function DealCard({ deal }) {
  return (
    <li class="deal" data-deal-id={deal.id}>
      <a class="title" href={`/deal/${encodeURIComponent(deal.id)}`}>{deal.title}</a>
      <div class="meta">
        {deal.merchantName ?? "Unknown merchant"}
        {deal.category ? <> · {deal.category.name}</> : null}
        {deal.online ? <span class="badge">online</span> : null}
        {deal.distanceKm != null ? <> · {deal.distanceKm.toFixed(1)} km away</> : null}
      </div>
      <div class="prices">
        <span class="price">{money(deal.price)}</span> <s aria-label={`claimed value ${money(deal.value)}`}>{money(deal.value)}</s>
        <span class="discount">−{pct(deal.discountPct)}</span>
        <span class="saving">save {money(deal.saving)}</span>
        {deal.score
          ? <span class={`verified ${deal.score.isGenuine ? "genuine" : "not-genuine"}`} data-verified-pct={deal.score.verifiedDiscountPct}>
              {pct(deal.score.verifiedDiscountPct)} verified{deal.score.isGenuine ? "" : " (not the advertised discount)"}</span>
          : null}
        {deal.expiresAt ? <span class="expires">ends {when(deal.expiresAt)}</span> : null}
      </div>
    </li>
  );
}

function Results({ params }) {
  const variables = searchVariables(params);
  const { data, error, loading, reload } = useQuery(SEARCH, variables, JSON.stringify(variables));
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading what="Searching deals" />;
  const { edges, pageInfo, exhaustive } = data.deals;
  const page = Number(params.get("page") || 1);
  if (!edges.length) {
    return <Empty>{variables.after ? "No more deals on this page." : "No deals match this search. Try a wider price range, a lower discount or another category."}</Empty>;
  }
  markFirstResult();
  return (
    <section aria-label="Results" aria-busy={loading ? "true" : "false"}>
      <p class="summary">Page {page} · {edges.length} deals{!exhaustive ? " · ranked within the first rows read (the server's scan bound)" : ""}</p>
      <ol class="deals" start={(page - 1) * PAGE_SIZE + 1}>{edges.map((e) => <DealCard key={e.node.id} deal={e.node} />)}</ol>
      <nav class="pager" aria-label="Pages">
        {variables.after ? <a href={hrefWith(params, { after: null, page: null })}>« First page</a> : null}
        {pageInfo.hasNextPage ? <a rel="next" href={hrefWith(params, { after: pageInfo.endCursor, page: page + 1 })}>Next page »</a> : null}
      </nav>
    </section>
  );
}

export function SearchPage({ params }) {
  const { categories, error, reload } = useCategories();
  const selected = params.get("category");
  return (
    <div class="search-page">
      <aside>
        <h2>Categories</h2>
        {error ? <ErrorState error={error} retry={reload} /> : categories
          ? <CategoryTree categories={categories} selected={selected}
                          hrefFor={(slug) => hrefWith(params, { category: slug, after: null, page: null })} />
          : <Loading what="Loading categories" />}
      </aside>
      <div class="main">
        <h1>Search deals</h1>
        <SearchForm params={params} />
        <Results params={params} />
      </div>
    </div>
  );
}
