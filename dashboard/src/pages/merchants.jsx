// Merchants of a category ranked by units sold, by honesty (share of genuine discounts) or by adjusted
// rating, paged by cursor; the sort and the page are in the URL.
import { useCategories } from "../categories.jsx";
import { MERCHANTS } from "../queries.js";
import { navigate } from "../router.js";
import { Empty, ErrorState, Loading, useQuery } from "../ui.jsx";

const PAGE_SIZE = 20;
const SORTS = { DEALS_SOLD: "best seller first", HONESTY: "most honest discounts first", BEST_RATED: "best rated first" };
const share = (f) => `${Math.round(f * 100)}%`;

const href = (category, sort, after, page) => `/merchants?category=${encodeURIComponent(category)}`
  + (sort !== "DEALS_SOLD" ? `&sort=${sort}` : "") + (after ? `&after=${encodeURIComponent(after)}&page=${page}` : "");

function Ranking({ category, sort, after, page }) {
  const variables = { category, sort, first: PAGE_SIZE, after };
  const { data, error, reload } = useQuery(MERCHANTS, variables, JSON.stringify(variables));
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading what="Ranking merchants" />;
  const { edges, pageInfo } = data.merchants;
  if (!edges.length) return <Empty>No merchant has deals in this category yet.</Empty>;
  const first = (page - 1) * PAGE_SIZE;
  return (
    <>
      <table class="ranking">
        <caption>Merchants in this category, {SORTS[sort]} (page {page})</caption>
        <thead><tr><th scope="col">#</th><th scope="col">Merchant</th><th scope="col">Units sold</th>
          <th scope="col">Deals</th><th scope="col">Bought here today</th><th scope="col">Genuine discounts</th>
          <th scope="col">Inflated values</th><th scope="col">Rating</th></tr></thead>
        <tbody>{edges.map(({ node }, i) => (
          <tr key={node.id} data-merchant-id={node.id}>
            <td>{first + i + 1}</td><td>{node.name ?? `merchant ${node.id}`}</td><td>{node.dealsSold}</td>
            <td>{node.dealCount}</td><td>{node.liveUnitsToday}</td>
            <td data-honest-share={node.honesty?.honestShare}>
              {node.honesty ? `${share(node.honesty.honestShare)} of ${node.honesty.scoredDeals}` : "–"}</td>
            <td>{node.honesty ? node.honesty.inflationIncidents : "–"}</td>
            <td>{node.rating ? `${node.rating.adjusted.toFixed(1)} (${node.rating.count})` : "–"}</td>
          </tr>
        ))}</tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        {after ? <a href={href(category, sort)}>« First page</a> : null}
        {pageInfo.hasNextPage ? <a rel="next" href={href(category, sort, pageInfo.endCursor, page + 1)}>Next page »</a> : null}
      </nav>
    </>
  );
}

export function MerchantsPage({ params }) {
  const { categories, error, reload } = useCategories();
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!categories) return <Loading what="Loading categories" />;
  if (!categories.length) return <Empty>No categories yet: the crawler has not stored any deal.</Empty>;
  const category = params.get("category") || categories[0].slug;
  const sort = SORTS[params.get("sort")] ? params.get("sort") : "DEALS_SOLD";
  const choose = (event) => navigate(href(event.currentTarget.value, sort));
  const sortBy = (event) => navigate(href(category, event.currentTarget.value));
  return (
    <div>
      <h1>Merchants</h1>
      <label>Category{" "}
        <select value={category} onChange={choose}>
          {categories.map((top) => (
            <optgroup label={top.name} key={top.slug}>
              <option value={top.slug}>{top.name} (all)</option>
              {top.children.map((c) => <option value={c.slug} key={c.slug}>{c.name}</option>)}
            </optgroup>
          ))}
        </select>
      </label>{" "}
      <label>Rank by{" "}
        <select value={sort} onChange={sortBy}>
          {Object.entries(SORTS).map(([value, label]) => <option value={value} key={value}>{label}</option>)}
        </select>
      </label>
      <Ranking category={category} sort={sort} after={params.get("after")} page={Number(params.get("page") || 1)} />
    </div>
  );
}
