// Merchants of a category ranked by units sold (best seller first), paged by cursor.
import { useCategories } from "../categories.jsx";
import { MERCHANTS } from "../queries.js";
import { navigate } from "../router.js";
import { Empty, ErrorState, Loading, useQuery } from "../ui.jsx";

const PAGE_SIZE = 20;

function Ranking({ category, after, page }) {
  const variables = { category, first: PAGE_SIZE, after };
  const { data, error, reload } = useQuery(MERCHANTS, variables, JSON.stringify(variables));
  if (error) return <ErrorState error={error} retry={reload} />;
  if (!data) return <Loading what="Ranking merchants" />;
  const { edges, pageInfo } = data.merchants;
  if (!edges.length) return <Empty>No merchant has deals in this category yet.</Empty>;
  const first = (page - 1) * PAGE_SIZE;
  return (
    <>
      <table class="ranking">
        <caption>Merchants in this category, best seller first (page {page})</caption>
        <thead><tr><th scope="col">#</th><th scope="col">Merchant</th><th scope="col">Units sold</th>
          <th scope="col">Deals</th><th scope="col">Bought here today</th></tr></thead>
        <tbody>{edges.map(({ node }, i) => (
          <tr key={node.id} data-merchant-id={node.id}>
            <td>{first + i + 1}</td><td>{node.name ?? `merchant ${node.id}`}</td><td>{node.dealsSold}</td>
            <td>{node.dealCount}</td><td>{node.liveUnitsToday}</td>
          </tr>
        ))}</tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        {after ? <a href={`/merchants?category=${encodeURIComponent(category)}`}>« First page</a> : null}
        {pageInfo.hasNextPage
          ? <a rel="next" href={`/merchants?category=${encodeURIComponent(category)}&after=${encodeURIComponent(pageInfo.endCursor)}&page=${page + 1}`}>Next page »</a>
          : null}
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
  const choose = (event) => navigate(`/merchants?category=${encodeURIComponent(event.currentTarget.value)}`);
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
      </label>
      <Ranking category={category} after={params.get("after")} page={Number(params.get("page") || 1)} />
    </div>
  );
}
