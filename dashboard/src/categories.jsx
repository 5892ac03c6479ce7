// The category tree (top-level categories with their children), loaded once per visit.
import { useEffect, useState } from "preact/hooks";
import { query } from "./gql.js";
import { CATEGORIES } from "./queries.js";

let cached = null;

/** { categories, error, reload }: categories is null while loading. */
export function useCategories() {
  const [state, setState] = useState({ categories: cached, error: null });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    if (cached) return;
    query(CATEGORIES).then(
      (data) => setState({ categories: (cached = data.categories), error: null }),
      (error) => setState({ categories: null, error }),
    );
  }, [attempt]);
  return { ...state, reload: () => setAttempt((n) => n + 1) };
}

/** Display name of a slug, from the tree. */
export function categoryName(categories, slug) {
  for (const top of categories ?? []) {
    if (top.slug === slug) return top.name;
    const child = top.children.find((c) => c.slug === slug);
    if (child) return child.name;
  }
  return slug;
}

/** The tree as links: `hrefFor(slug | null)` builds each link; the branch holding `selected` is open. */
export function CategoryTree({ categories, selected, hrefFor }) {
  const openTop = categories.find((top) => top.slug === selected || top.children.some((c) => c.slug === selected));
  const link = (category) => (
    <>
      <a href={hrefFor(category.slug)} data-slug={category.slug}
         aria-current={selected === category.slug ? "true" : undefined}>{category.name}</a>
      <span class="count" aria-label={`${category.dealCount} deals`}>{category.dealCount}</span>
    </>
  );
  return (
    <nav class="tree" aria-label="Categories">
      <a href={hrefFor(null)} aria-current={selected ? undefined : "true"}>All categories</a>
      <ul>
        {categories.map((top) => (
          <li key={top.slug} class={openTop?.slug === top.slug ? "open" : undefined}>
            <div class="row">{link(top)}</div>
            {openTop?.slug === top.slug ? (
              <ul>{top.children.map((child) => <li key={child.slug} class="row">{link(child)}</li>)}</ul>
            ) : null}
          </li>
        ))}
      </ul>
    </nav>
  );
}
