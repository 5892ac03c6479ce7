// An offline map of the United States: us-atlas state shapes (TopoJSON in the npm package, bundled
// into this lazily loaded chunk) drawn with d3-geo's Albers USA projection. No tiles, no network.
import { geoAlbersUsa, geoPath } from "d3-geo";
import { feature, mesh } from "topojson-client";
import states from "us-atlas/states-10m.json";

const WIDTH = 975, HEIGHT = 610;
const projection = geoAlbersUsa().scale(1300).translate([WIDTH / 2, HEIGHT / 2]);
const path = geoPath(projection);
const nation = path(feature(states, states.objects.nation));
const borders = path(mesh(states, states.objects.states, (a, b) => a !== b));

const BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz";

/** The [west, south, east, north] box of a geohash. */
export function geohashBox(hash) {
  let lat = [-90, 90], lon = [-180, 180], even = true;
  for (const ch of hash) {
    const bits = BASE32.indexOf(ch);
    for (let i = 4; i >= 0; i -= 1) {
      const range = even ? lon : lat;
      const mid = (range[0] + range[1]) / 2;
      if ((bits >> i) & 1) range[0] = mid; else range[1] = mid;
      even = !even;
    }
  }
  return [lon[0], lat[0], lon[1], lat[1]];
}

function cellPath(hash) {
  const [w, s, e, n] = geohashBox(hash);
  // Clockwise ring (d3-geo's spherical winding) with points along each edge so the projection bends it.
  const ring = [];
  for (let i = 0; i <= 4; i += 1) ring.push([w + ((e - w) * i) / 4, n]);
  for (let i = 1; i <= 4; i += 1) ring.push([e, n - ((n - s) * i) / 4]);
  for (let i = 1; i <= 4; i += 1) ring.push([e - ((e - w) * i) / 4, s]);
  for (let i = 1; i <= 4; i += 1) ring.push([w, s + ((n - s) * i) / 4]);
  return path({ type: "Polygon", coordinates: [ring] });
}

/** Colour of `users` on a log scale from `floor` to `max` (light yellow to deep red). */
export function colourFor(users, floor, max) {
  const t = max > floor ? Math.log(users / floor + 1e-9) / Math.log(max / floor) : 1;
  const stops = [[255, 237, 160], [254, 178, 76], [240, 59, 32], [128, 0, 38]];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c.join(",")})`;
}

/** The map with optional activity `cells` ({geohash, users, ...}) and an optional `pin` {latitude, longitude}. */
export default function UsMap({ cells = [], floor = 1, pin = null, label }) {
  const max = Math.max(floor, ...cells.map((c) => c.users));
  const point = pin ? projection([pin.longitude, pin.latitude]) : null;
  return (
    <>
    <svg class="usmap" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
      <path d={nation} class="land" />
      <path d={borders} class="borders" />
      <g class="cells">
        {cells.map((c) => (
          <path key={c.geohash} d={cellPath(c.geohash)} fill={colourFor(c.users, floor, max)} data-geohash={c.geohash}
                data-users={c.users}>
            <title>{`${c.geohash}: ${c.users} users, ${c.events} events, ${c.purchases} purchases`}</title>
          </path>
        ))}
      </g>
      {point ? (
        <g class="pin" transform={`translate(${point[0]},${point[1]})`}>
          <circle r="14" class="pin-halo" /><circle r="6" class="pin-dot" />
        </g>
      ) : null}
    </svg>
    {cells.length ? <Legend floor={floor} max={max} /> : null}
    </>
  );
}

/** The colour scale of the cells, from the floor to the busiest cell. */
export function Legend({ floor, max }) {
  const steps = [0, 0.25, 0.5, 0.75, 1].map((t) => Math.round(floor * (max / floor) ** t));
  return (
    <p class="legend" aria-label={`Colour scale: ${floor} to ${max} distinct users per cell`}>
      <span>users per cell:</span>
      {[...new Set(steps)].map((n) => <span key={n}><i style={{ background: colourFor(n, floor, max) }} />{n}</span>)}
    </p>
  );
}

/** Whether the Albers USA projection can place the point (false outside the US). */
export const onMap = (pin) => projection([pin.longitude, pin.latitude]) !== null;
