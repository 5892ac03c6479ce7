// Builds dist/: the dashboard (Preact, code-split ES modules) and the offline GraphiQL page (React),
// each with content-hashed assets, plus dist/build-info.json with raw and gzipped sizes.
// Run by `./dev` as `npm ci && npm run build`; graphql_api serves dist/ (never committed).
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const assets = join(dist, "assets");

const common = {
  bundle: true, minify: true, metafile: true, outdir: assets, legalComments: "none",
  target: ["chrome110", "firefox110", "safari16"], logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
};

async function buildApp() {
  return build({
    ...common, entryPoints: { app: join(root, "src/main.jsx") }, format: "esm", splitting: true,
    entryNames: "[name]-[hash]", chunkNames: "chunk-[hash]", assetNames: "[name]-[hash]",
    jsx: "automatic", jsxImportSource: "preact", loader: { ".json": "json" },
  });
}

async function buildGraphiQL() {
  return build({
    ...common, entryPoints: { graphiql: join(root, "src/graphiql.jsx") }, format: "iife",
    entryNames: "[name]-[hash]", assetNames: "[name]-[hash]", jsx: "automatic", jsxImportSource: "react",
  });
}

/** The entry's JS and CSS file names from esbuild's metafile. */
function entryFiles(metafile, name) {
  const outputs = Object.entries(metafile.outputs);
  const [js, out] = outputs.find(([file, o]) => o.entryPoint && basename(file).startsWith(`${name}-`) && file.endsWith(".js"));
  return { js: basename(js), css: out.cssBundle ? basename(out.cssBundle) : null };
}

function page({ title, js, css, module, body }) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
${css ? `<link rel="stylesheet" href="/assets/${css}">` : ""}
<script ${module ? 'type="module" ' : "defer "}src="/assets/${js}"></script>
</head>
<body>
${body}
</body>
</html>
`;
}

async function sizes(metafile, entry) {
  // What a first visit downloads: the entry's JS, its static imports and its CSS (lazy chunks apart).
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const out = metafile.outputs[file];
    for (const imp of out.imports ?? []) if (imp.kind === "import-statement") walk(imp.path);
    if (out.cssBundle) seen.add(out.cssBundle);
  };
  walk(Object.keys(metafile.outputs).find((f) => basename(f) === entry));
  let raw = 0, gzip = 0;
  for (const file of seen) {
    const data = await readFile(join(root, file));
    raw += data.length;
    gzip += gzipSync(data, { level: 9 }).length;
  }
  let all = 0, allGzip = 0;
  for (const file of Object.keys(metafile.outputs).filter((f) => !f.endsWith(".map"))) {
    const data = await readFile(join(root, file));
    all += data.length;
    allGzip += gzipSync(data, { level: 9 }).length;
  }
  return { initial: { files: [...seen].map((f) => basename(f)).sort(), bytes: raw, gzipBytes: gzip },
           all: { bytes: all, gzipBytes: allGzip } };
}

async function main() {
  process.chdir(root);
  await rm(dist, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const [app, graphiql] = await Promise.all([buildApp(), buildGraphiQL()]);
  const appFiles = entryFiles(app.metafile, "app");
  const ideFiles = entryFiles(graphiql.metafile, "graphiql");
  await writeFile(join(dist, "index.html"), page({
    title: "ExStreamly Cheap", ...appFiles, module: true,
    body: '<div id="app"><p class="boot">Loading ExStreamly Cheap…</p></div>',
  }));
  await writeFile(join(dist, "graphiql.html"), page({
    title: "GraphiQL · ExStreamly Cheap", ...ideFiles, module: false,
    body: '<div id="graphiql" style="height:100vh"><p>Loading GraphiQL…</p></div>',
  }));
  const info = { dashboard: await sizes(app.metafile, appFiles.js), graphiql: await sizes(graphiql.metafile, ideFiles.js) };
  await writeFile(join(dist, "build-info.json"), JSON.stringify(info, null, 2) + "\n");
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`dashboard: first load ${kb(info.dashboard.initial.gzipBytes)} gzipped (${kb(info.dashboard.initial.bytes)} raw); `
    + `all chunks ${kb(info.dashboard.all.gzipBytes)} gzipped`);
  console.log(`graphiql:  ${kb(info.graphiql.all.gzipBytes)} gzipped (${kb(info.graphiql.all.bytes)} raw)`);
}

main().catch((err) => { console.error(err); process.exit(1); });
