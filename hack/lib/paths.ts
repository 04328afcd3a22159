// Where the repository is, for scripts and tests that start its tools.
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");
