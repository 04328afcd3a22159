// Reads the example resources and the catalogue of invalid inputs, shared by unit and integration tests.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

import { ROOT } from "../../hack/lib/paths.ts";

export { ROOT };
export const EXAMPLES_DIR = join(ROOT, "examples");
export const INVALID_DIR = join(ROOT, "test", "fixtures", "invalid");

export interface Manifest {
  file: string;
  object: Record<string, unknown> & { apiVersion: string; kind: string };
}

export function readManifests(dir: string): Manifest[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), "utf8"))
        .map((doc) => doc.toJS())
        .filter((object) => object)
        .map((object) => ({ file, object })),
    );
}

/** One bad input with what each layer must say about it. */
export interface InvalidCase {
  name: string;
  file: string;
  object: Manifest["object"];
  /** The field the error must name. */
  path: string;
  /** A substring of the zod error (and of the API server's, unless `server` is given). */
  message: string;
  /** A substring of the API server's error, where it words the error differently. */
  server?: string;
  /** Layers that reject it; the API server can't check every rule (time zones). */
  layers: ("zod" | "server")[];
}

export function readInvalidCases(): InvalidCase[] {
  return readdirSync(INVALID_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((file) => {
      const text = readFileSync(join(INVALID_DIR, file), "utf8");
      const header = Object.fromEntries(
        [...text.matchAll(/^# (path|message|server|layers): (.*)$/gm)].map((m) => [m[1], m[2]?.trim()]),
      );
      if (!header.path || !header.message)
        throw new Error(`${file}: needs "# path:" and "# message:" header lines`);
      const docs = parseAllDocuments(text);
      return {
        name: file.replace(/\.yaml$/, ""),
        file: join(INVALID_DIR, file),
        object: docs[0]?.toJS(),
        path: header.path,
        message: header.message,
        server: header.server,
        layers: (header.layers ?? "zod,server")
          .split(",")
          .map((s: string) => s.trim()) as InvalidCase["layers"],
      };
    });
}
