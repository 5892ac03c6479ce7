// The shopper's dashboard: one page per route, every byte of data through GraphQL.
import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "./app.css";
import { DealPage } from "./pages/deal.jsx";
import { ForYouPage } from "./pages/foryou.jsx";
import { LivePage } from "./pages/live.jsx";
import { MapPage } from "./pages/map.jsx";
import { MerchantsPage } from "./pages/merchants.jsx";
import { SearchPage } from "./pages/search.jsx";
import { onLinkClick, useRoute } from "./router.js";
import { Empty } from "./ui.jsx";

const NAV = [["/search", "Search"], ["/merchants", "Merchants"], ["/live", "Live"], ["/map", "Map"], ["/for-you", "For you"]];

function page({ path, params }) {
  if (path === "/" || path === "/search") return ["Search", <SearchPage params={params} />];
  const deal = path.match(/^\/deal\/([^/]+)$/);
  if (deal) return ["Deal", <DealPage id={decodeURIComponent(deal[1])} />];
  if (path === "/merchants") return ["Merchants", <MerchantsPage params={params} />];
  if (path === "/live") return ["Live", <LivePage params={params} />];
  if (path === "/map") return ["Map", <MapPage params={params} />];
  if (path === "/for-you") return ["For you", <ForYouPage />];
  return ["Not found", <Empty>There is no page at {path}. <a href="/search">Search deals</a>.</Empty>];
}

function App() {
  const route = useRoute();
  const [title, content] = page(route);
  document.title = `${title} · ExStreamly Cheap`;
  const active = route.path === "/" ? "/search" : route.path;
  return (
    <>
      <a class="skip" href="#content">Skip to content</a>
      <header>
        <a class="brand" href="/search">ExStreamly <span>Cheap</span></a>
        <nav aria-label="Pages">
          {NAV.map(([href, label]) => <a key={href} href={href} aria-current={active === href ? "page" : undefined}>{label}</a>)}
          <a href="/graphql" target="_blank" rel="noopener">GraphiQL</a>
        </nav>
      </header>
      <main id="content" key={route.path}>{content}</main>
      <footer>Deals, prices and activity from the ExStreamly Cheap GraphQL API.</footer>
    </>
  );
}

const root = document.getElementById("app");
root.textContent = "";
document.addEventListener("click", onLinkClick);
render(<App />, root);
