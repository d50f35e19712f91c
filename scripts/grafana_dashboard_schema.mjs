// Validates Grafana dashboard JSON files against Grafana's own dashboard model.
//
//   node scripts/grafana_dashboard_schema.mjs TOOLS_DIR DASHBOARD_JSON...
//
// Grafana publishes that model as TypeScript types (npm @grafana/schema,
// raw/dashboard/x/types.gen.d.ts, type Dashboard), not as a JSON schema; TOOLS_DIR holds
// them with ts-json-schema-generator, which turns them into one, and ajv, which validates
// (scripts/check-deploy.sh installs the three there at pinned versions). Unknown
// properties are refused, as Grafana's types leave no room for them.
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [tools, ...files] = process.argv.slice(2);
if (!tools || files.length === 0) {
  console.error("usage: grafana_dashboard_schema.mjs TOOLS_DIR DASHBOARD_JSON...");
  process.exit(2);
}
const require = createRequire(join(tools, "package.json"));
const schemaFile = join(tools, "dashboard.schema.json");
if (!existsSync(schemaFile)) {
  const { createGenerator } = require("ts-json-schema-generator");
  const types = require.resolve("@grafana/schema/package.json").replace(
    /package\.json$/, "dist/types/raw/dashboard/x/types.gen.d.ts");
  const schema = createGenerator({ path: types, type: "Dashboard", skipTypeCheck: true }).createSchema("Dashboard");
  writeFileSync(schemaFile, JSON.stringify(schema));
}
const Ajv = require("ajv");
const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(schemaFile, "utf8")));
let failed = 0;
for (const file of files) {
  if (validate(JSON.parse(readFileSync(file, "utf8")))) {
    console.log(`   ${file}: valid (Grafana's Dashboard model, @grafana/schema)`);
    continue;
  }
  failed++;
  console.log(`   ${file}: INVALID`);
  for (const e of validate.errors.slice(0, 20)) console.log(`     ${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`);
}
process.exit(failed ? 1 : 0);
