// A line chart drawn by uPlot, loaded on first use so the search page never pays for it.
import { useEffect, useRef } from "preact/hooks";

let uplot = null;
const loadUPlot = () => (uplot ??= import("uplot").then((m) => m.default));

const COLOURS = ["#c2410c", "#1d4ed8", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#be185d", "#4338ca", "#374151"];

/**
 * `data` is uPlot's columns: [xs (unix seconds), ys1, ys2, ...]; `series` names each y column.
 * `label` describes the chart for screen readers (the numbers are also in a table beside it).
 */
export function LineChart({ data, series, label, height = 220, stepped = false, yLabel = "" }) {
  const box = useRef(null);
  const plot = useRef(null);
  const latest = useRef(data);
  latest.current = data;
  const key = series.join("|");
  useEffect(() => {
    let cancelled = false;
    loadUPlot().then((UPlot) => {
      if (cancelled || !box.current) return;
      const paths = stepped ? UPlot.paths.stepped({ align: 1 }) : undefined;
      plot.current = new UPlot({
        width: box.current.clientWidth || 600, height,
        series: [{}, ...series.map((name, i) => ({ label: name, stroke: COLOURS[i % COLOURS.length], width: 2, paths }))],
        axes: [{}, { label: yLabel, size: 60 }],
        scales: { x: { time: true } },
        legend: { live: false },
      }, latest.current, box.current);
    });
    const resize = () => plot.current?.setSize({ width: box.current.clientWidth, height });
    window.addEventListener("resize", resize);
    return () => {
      cancelled = true;
      window.removeEventListener("resize", resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key, height]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return <figure class="chart" role="img" aria-label={label} ref={box} />;
}
