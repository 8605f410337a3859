// Writes a GraphQL POST body ({"query", "variables"}) to stdout.
//   node body.mjs rust FILE CONST [VARIABLES_JSON]   the raw string `pub const CONST: &str = r#"…"#;`
//   node body.mjs graphql FILE [VARIABLES_JSON]      a .graphql file (its # comments dropped)
import { readFileSync } from "node:fs";

const [kind, file, ...rest] = process.argv.slice(2);
const source = readFileSync(file, "utf8");
let query;
let variables;
if (kind === "rust") {
  const found = new RegExp(`pub const ${rest[0]}: &str = r#"([\\s\\S]*?)"#;`).exec(source);
  if (!found) throw new Error(`no const ${rest[0]} in ${file}`);
  query = found[1];
  variables = rest[1];
} else if (kind === "graphql") {
  query = source
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .trim();
  variables = rest[0];
} else {
  throw new Error("usage: node body.mjs rust FILE CONST [VARIABLES] | graphql FILE [VARIABLES]");
}
process.stdout.write(JSON.stringify({ query, variables: JSON.parse(variables || "{}") }));
