// A progress bar on stderr for long runs (the simulate command, the benchmark); silent when stderr is not a
// terminal unless asked, so logs and CI output stay clean.
import cliProgress from "cli-progress";

export interface ProgressBar {
  update(done: number, total: number, label: string): void;
  stop(): void;
}

export function progressBar(title: string, options: { enabled?: boolean } = {}): ProgressBar {
  const enabled = options.enabled ?? process.stderr.isTTY === true;
  if (!enabled) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | {value}/{total} | ETA {eta_formatted} | {label}`,
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, label) {
      if (!started) {
        bar.start(total, done, { label });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, { label });
      }
    },
    stop() {
      // A later update starts the bar again (the simulate command stops it to print warnings).
      if (started) bar.stop();
      started = false;
    },
  };
}
