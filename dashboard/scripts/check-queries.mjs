// Validates every GraphQL document of src/queries.js against the API's committed schema
// (graphql_api/schema.graphql); exits 1 naming each document that no longer validates.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, parse, validate } from "graphql";
import * as queries from "../src/queries.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const schema = buildSchema(await readFile(join(root, "..", "graphql_api", "schema.graphql"), "utf8"));
let failed = 0;
for (const [name, document] of Object.entries(queries)) {
  const errors = validate(schema, parse(document));
  for (const error of errors) console.error(`${name}: ${error.message}`);
  failed += errors.length ? 1 : 0;
}
console.log(`${Object.keys(queries).length - failed} of ${Object.keys(queries).length} dashboard documents validate against schema.graphql`);
process.exit(failed ? 1 : 0);
