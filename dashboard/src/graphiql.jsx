// GraphiQL served by the API itself from npm packages (no CDN): queries over HTTP POST /graphql,
// subscriptions over graphql-transport-ws on the same URL.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/graphiql.css";
import { createRoot } from "react-dom/client";
import { createClient } from "graphql-ws";

const url = new URL("/graphql", window.location.href);
const wsUrl = url.href.replace(/^http/, "ws");
const fetcher = createGraphiQLFetcher({ url: url.href, wsClient: createClient({ url: wsUrl, lazy: true }) });
const defaultQuery = `# ExStreamly Cheap: the best discounts in a category
{
  deals(filter: {category: "restaurants", minDiscount: 0.3}, sort: BEST_DISCOUNT, first: 5) {
    nodes { id title price discountPct merchantName }
    pageInfo { hasNextPage endCursor }
  }
}
`;

document.body.style.margin = "0";
createRoot(document.getElementById("graphiql")).render(
  <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} defaultEditorToolsVisibility={true} />,
);
