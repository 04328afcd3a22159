// Property tests run with one seed per run so a CI failure can be replayed: FC_SEED picks it (print it
// with the failure), and a different seed explores new cases. Default: a fixed seed, so CI is repeatable.
import fc from "fast-check";

const seed = Number(process.env.FC_SEED ?? 20261126);
fc.configureGlobal({ seed });
