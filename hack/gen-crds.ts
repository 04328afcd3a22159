// Writes crds/*.yaml, the Helm chart's charts/inferops/crds/*.yaml (the same files) and docs/reference.md
// from the zod schemas in operator/src/apis. With --check, writes nothing and exits 1 when any is stale.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crdFiles } from "../operator/src/apis/crd.ts";
import { renderReference } from "../operator/src/apis/reference.ts";

const root = join(import.meta.dirname, "..");
const crdDirs = ["crds", join("charts", "inferops", "crds")];
const check = process.argv.includes("--check");
const files = crdFiles();
const outputs = new Map(
  crdDirs.flatMap((dir) => [...files].map(([name, text]) => [join(dir, name), text] as const)),
);
outputs.set(join("docs", "reference.md"), renderReference());
const stale: string[] = [];
for (const dir of crdDirs) mkdirSync(join(root, dir), { recursive: true });
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
const extra = crdDirs.flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith(".yaml") && !files.has(f))
    .map((f) => join(dir, f)),
);
if (check) {
  if (stale.length > 0 || extra.length > 0) {
    console.error(
      `generated files are stale (${[...stale, ...extra].join(", ")}): run \`make crds\` and commit the result`,
    );
    process.exit(1);
  }
  console.log("crds/, charts/inferops/crds/ and docs/reference.md are up to date");
} else {
  if (extra.length > 0) console.error(`not generated from apis/, remove: ${extra.join(", ")}`);
  console.log(stale.length ? `wrote ${stale.join(", ")}` : "crds/ already up to date");
}
