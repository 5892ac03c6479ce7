// Where users are active this hour: the API's activity cells over an offline US map, coloured by
// distinct users, with the average review stars of each busy cell. Cells under the anonymity floor
// never leave the API (nor the pipeline).
import { useEffect, useState } from "preact/hooks";
import { query } from "../gql.js";
import { UsMap } from "../lazy.jsx";
import { ACTIVITY_MAP } from "../queries.js";
import { navigate } from "../router.js";
import { Empty, ErrorState, Loading, when } from "../ui.jsx";

const REFRESH_MS = 10000;
const PRECISIONS = [[3, "~156 km cells"], [4, "~39 km cells"], [5, "~4.9 km cells"]];

function useActivity(precision) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let alive = true;
    const load = () => query(ACTIVITY_MAP, { precision }).then(
      (data) => alive && setState({ data, error: null }),
      (error) => alive && setState((s) => ({ data: s.data, error })),
    );
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => { alive = false; clearInterval(timer); };
  }, [precision]);
  return state;
}

export function MapPage({ params }) {
  const precision = Number(params.get("precision") || 4);
  const { data, error } = useActivity(precision);
  const choose = (event) => navigate(`/map?precision=${event.currentTarget.value}`, { replace: true });
  let body;
  if (error && !data) body = <ErrorState error={error} />;
  else if (!data) body = <Loading what="Loading activity" />;
  else {
    const parts = [data.lower48, data.alaska, data.hawaii];
    const cells = parts.flatMap((p) => p.cells);
    const floor = data.lower48.minUsers;
    body = (
      <>
        {error ? <ErrorState error={error} /> : null}
        <p class="floor" data-min-users={floor}>
          Cells are shown only when at least <strong>{floor}</strong> distinct users were active in them
          (the anonymity floor); smaller groups are never stored. Hour from {when(data.lower48.hour)}.
        </p>
        <div class="map-box">
          <UsMap cells={cells} floor={floor} label={`Activity map: ${cells.length} cells with at least ${floor} users`} />
          {!cells.length ? <Empty>No cell has reached {floor} users this hour yet.</Empty> : null}
        </div>
        {cells.length ? (
          <table class="cells">
            <caption>Busiest cells ({cells.length})</caption>
            <thead><tr><th scope="col">Cell</th><th scope="col">Centre</th><th scope="col">Users</th><th scope="col">Events</th>
              <th scope="col">Purchases</th><th scope="col">Average rating</th></tr></thead>
            <tbody>{[...cells].sort((a, b) => b.users - a.users).slice(0, 15).map((c) => (
              <tr key={c.geohash}><td>{c.geohash}</td><td>{c.latitude.toFixed(2)}, {c.longitude.toFixed(2)}</td>
                <td>{c.users}</td><td>{c.events}</td><td>{c.purchases}</td>
                <td data-average-rating={c.averageRating ?? ""}>
                  {c.averageRating == null ? "–" : `${c.averageRating.toFixed(1)} / 5`}</td></tr>
            ))}</tbody>
          </table>
        ) : null}
      </>
    );
  }
  return (
    <div class="map-page">
      <h1>Where users are active</h1>
      <label>Cell size{" "}
        <select value={precision} onChange={choose}>
          {PRECISIONS.map(([p, label]) => <option value={p} key={p}>{label}</option>)}
        </select>
      </label>
      {body}
    </div>
  );
}
