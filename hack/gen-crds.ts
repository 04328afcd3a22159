// Writes crds/*.yaml and docs/reference.md from the zod schemas in operator/src/apis.
// With --check, writes nothing and exits 1 when either is stale.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crdFiles } from "../operator/src/apis/crd.ts";
import { renderReference } from "../operator/src/apis/reference.ts";

const root = join(import.meta.dirname, "..");
const dir = join(root, "crds");
const check = process.argv.includes("--check");
const files = crdFiles();
const outputs = new Map([...files].map(([name, text]) => [join("crds", name), text]));
outputs.set(join("docs", "reference.md"), renderReference());
const stale: string[] = [];
mkdirSync(dir, { recursive: true });
mkdirSync(join(root, "docs"), { recursive: true });
for (const [name, text] of outputs) {
  const path = join(root, name);
  let current: string | undefined;
  try {
    current = readFileSync(path, "utf8");
  } catch {}
  if (current === text) continue;
  stale.push(name);
  if (!check) writeFileSync(path, text);
}
const extra = readdirSync(dir).filter((f) => f.endsWith(".yaml") && !files.has(f));
if (check) {
  if (stale.length > 0 || extra.length > 0) {
    console.error(
      `generated files are stale (${[...stale, ...extra].join(", ")}): run \`make crds\` and commit the result`,
    );
    process.exit(1);
  }
  console.log("crds/ and docs/reference.md are up to date");
} else {
  console.log(stale.length ? `wrote ${stale.join(", ")}` : "crds/ already up to date");
}
