// The operator image for the chart suite, built once per run: a Docker engine (hack/docker.sh starts one when
// none answers), the local base image (hack/base-image.sh), then the repository's Dockerfile on it. Also the
// path of the cached helm binary (hack/lib/binaries.ts).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./fixtures.ts";

export { cachedBinary } from "../../hack/lib/binaries.ts";

export const OPERATOR_IMAGE = "inferops:test";

function run(cmd: string, args: string[], timeoutMs = 600_000) {
  const res = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: timeoutMs });
  return {
    ok: res.status === 0,
    stdout: res.stdout ?? "",
    error: `${cmd} ${args.join(" ")}: ${(res.stderr || res.error?.message || "").trim().split("\n").slice(-5).join("\n")}`,
  };
}

export interface DockerEngine {
  /** The pid of the dockerd this run started, which it must stop; undefined when one already answered. */
  startedPid?: number;
  stop(): void;
}

/** A Docker engine, or why none can run here (then the suite is skipped with that reason). */
export function dockerEngine(): DockerEngine | { unavailable: string } {
  const up = run(join(ROOT, "hack", "docker.sh"), ["up"], 120_000);
  if (!up.ok) return { unavailable: up.error };
  const started = up.stdout.match(/^started (\d+)$/m);
  return {
    startedPid: started ? Number(started[1]) : undefined,
    stop: () => {
      if (started) run(join(ROOT, "hack", "docker.sh"), ["down"], 60_000);
    },
  };
}

/** Builds OPERATOR_IMAGE from the Dockerfile on the local base image (cached layers make a warm build fast). */
export function buildOperatorImage(): string {
  const base = run(join(ROOT, "hack", "base-image.sh"), []);
  if (!base.ok) throw new Error(base.error);
  const baseImage = base.stdout.trim().split("\n").at(-1)!;
  const previous = run("docker", ["image", "inspect", "--format", "{{.Id}}", OPERATOR_IMAGE]).stdout.trim();
  const build = run("docker", [
    "build",
    "--quiet",
    "--network",
    "host",
    "--build-arg",
    `BASE_IMAGE=${baseImage}`,
    "--tag",
    OPERATOR_IMAGE,
    ROOT,
  ]);
  if (!build.ok) throw new Error(build.error);
  // The image the tag pointed to before, when the sources changed and nothing else names it: removed, so
  // rebuilds do not pile up (an image a user tagged, such as make image's inferops:dev, stays).
  if (previous && previous !== build.stdout.trim()) {
    const tags = run("docker", ["image", "inspect", "--format", "{{len .RepoTags}}", previous]).stdout.trim();
    if (tags === "0") run("docker", ["image", "rm", previous]);
  }
  return OPERATOR_IMAGE;
}
