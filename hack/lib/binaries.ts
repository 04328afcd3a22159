// Where the binaries hack/controlplane/build.sh builds are cached (helm, kwok, the control plane's).
import { spawnSync } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./paths.ts";

/** A binary built by hack/controlplane/build.sh at the version pinned in versions.env. */
export function cachedBinary(
  component: "helm" | "kwok",
  versionVar: "HELM_VERSION" | "KWOK_VERSION",
): string {
  const versions = join(ROOT, "hack", "controlplane", "versions.env");
  const version = spawnSync("bash", ["-c", `source ${versions} && echo $${versionVar}`], {
    encoding: "utf8",
  }).stdout.trim();
  const cache =
    process.env.INFEROPS_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "inferops");
  return join(cache, "bin", `${component}-${version}`, component);
}
