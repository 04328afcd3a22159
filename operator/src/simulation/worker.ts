// Worker thread entry: runs the jobs its parent posts (jobs.ts), one at a time (the parent posts the next only
// once this one's result is back), and posts the results back.
import { parentPort } from "node:worker_threads";
import { type Job, runJob } from "./jobs.ts";

parentPort?.on("message", async (job: Job) => {
  try {
    const started = performance.now();
    const result = await runJob(job);
    parentPort?.postMessage({ ok: true, result, seconds: (performance.now() - started) / 1000 });
  } catch (err) {
    parentPort?.postMessage({
      ok: false,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
});
