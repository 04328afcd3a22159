// The part of cli-progress (no bundled types) that the simulate command and the benchmark use.
declare module "cli-progress" {
  export interface Options {
    format?: string;
    stream?: NodeJS.WritableStream;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    noTTYOutput?: boolean;
    notTTYSchedule?: number;
    etaBuffer?: number;
    fps?: number;
  }
  export interface Preset {
    barCompleteChar: string;
    barIncompleteChar: string;
    format?: string;
  }
  export class SingleBar {
    constructor(options: Options, preset?: Preset);
    start(total: number, start: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    setTotal(total: number): void;
    stop(): void;
  }
  export const Presets: { shades_classic: Preset; shades_grey: Preset; rect: Preset; legacy: Preset };
  const cliProgress: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default cliProgress;
}
