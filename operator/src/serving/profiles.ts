// Serving profiles per (model, GPU type): engine limits from vLLM's defaults, step costs from a roofline of
// the GPU's datasheet numbers scaled by efficiencies fitted to published measurements, and the spec numbers
// measured on the model itself (see docs/serving-model.md; capacity.test.ts re-measures them).
import type { GpuType, ServingProfile, StepCoefficients } from "./types.ts";

/** Datasheet numbers of one GPU (dense tensor throughput, no sparsity). */
export interface GpuSpec {
  type: GpuType;
  /** Memory visible to CUDA, GiB. */
  memoryGiB: number;
  /** Memory bandwidth, bytes/s. */
  bandwidth: number;
  /** Dense BF16 tensor FLOP/s. */
  bf16Flops: number;
  /** Dense FP8 tensor FLOP/s; undefined where the GPU has no FP8 tensor cores. */
  fp8Flops?: number;
  /**
   * Share of the datasheet tensor throughput the card sustains under a long tensor-core load: 1 for the SXM
   * parts, below 1 for the power-limited PCIe Ada cards (L40S 350 W, L4 72 W), whose clocks drop under load.
   */
  sustainedComputeFraction: number;
  /** Effective all-reduce bus bandwidth between GPUs of one replica, bytes/s (NVLink or PCIe). */
  allReduceBandwidth: number;
  /** vLLM's defaults for this card (vllm/engine/arg_utils.py: >= 70 GiB and not A100 gets the larger ones). */
  defaultMaxNumBatchedTokens: number;
  defaultMaxNumSeqs: number;
}

export const GPUS: Readonly<Record<GpuType, GpuSpec>> = {
  // NVIDIA H100 SXM5 80GB: 3.35 TB/s HBM3, 989 TFLOPS BF16, 1,979 TFLOPS FP8 (dense), NVLink 4.
  H100: {
    type: "H100",
    memoryGiB: 79.1,
    bandwidth: 3.35e12,
    bf16Flops: 989e12,
    fp8Flops: 1979e12,
    sustainedComputeFraction: 1,
    allReduceBandwidth: 300e9,
    defaultMaxNumBatchedTokens: 8192,
    defaultMaxNumSeqs: 1024,
  },
  // NVIDIA A100 SXM4 80GB: 2.039 TB/s HBM2e, 312 TFLOPS BF16, no FP8, NVLink 3.
  A100: {
    type: "A100",
    memoryGiB: 79.1,
    bandwidth: 2.039e12,
    bf16Flops: 312e12,
    sustainedComputeFraction: 1,
    allReduceBandwidth: 200e9,
    defaultMaxNumBatchedTokens: 2048,
    defaultMaxNumSeqs: 256,
  },
  // NVIDIA L40S 48GB: 864 GB/s GDDR6, 362 TFLOPS BF16, 733 TFLOPS FP8 (dense), PCIe only.
  L40S: {
    type: "L40S",
    memoryGiB: 44.4,
    bandwidth: 864e9,
    bf16Flops: 362e12,
    fp8Flops: 733e12,
    sustainedComputeFraction: 0.8,
    allReduceBandwidth: 20e9,
    defaultMaxNumBatchedTokens: 2048,
    defaultMaxNumSeqs: 256,
  },
  // NVIDIA L4 24GB: 300 GB/s GDDR6, 121 TFLOPS BF16, 242 TFLOPS FP8 (dense), PCIe only.
  L4: {
    type: "L4",
    memoryGiB: 22.0,
    bandwidth: 300e9,
    bf16Flops: 121e12,
    fp8Flops: 242e12,
    sustainedComputeFraction: 0.8,
    allReduceBandwidth: 10e9,
    defaultMaxNumBatchedTokens: 2048,
    defaultMaxNumSeqs: 256,
  },
};

/** The shape of a dense decoder-only model (Llama-style, grouped-query attention). */
export interface ModelSpec {
  name: string;
  /** Total parameters. */
  params: number;
  layers: number;
  hidden: number;
  vocab: number;
  kvHeads: number;
  headDim: number;
  /** Context length the servers are started with (vLLM --max-model-len). */
  maxModelLen: number;
}

export const LLAMA_3_1_8B: ModelSpec = {
  name: "meta-llama/Llama-3.1-8B-Instruct",
  params: 8.03e9,
  layers: 32,
  hidden: 4096,
  vocab: 128256,
  kvHeads: 8,
  headDim: 128,
  maxModelLen: 32768,
};

export const LLAMA_3_1_70B: ModelSpec = {
  name: "meta-llama/Llama-3.1-70B-Instruct",
  params: 70.6e9,
  layers: 80,
  hidden: 8192,
  vocab: 128256,
  kvHeads: 8,
  headDim: 128,
  maxModelLen: 32768,
};

/**
 * How far real kernels get from the datasheet. Fitted once, shared by every profile: see
 * docs/serving-model.md ("Calibration") for the anchors each number is fitted to.
 */
export interface Efficiency {
  /** Share of peak bandwidth achieved streaming the weights once per step. */
  weightBandwidth: number;
  /** Share of peak bandwidth achieved reading the paged KV cache in attention. */
  kvBandwidth: number;
  /** Share of peak FLOP/s achieved by prefill GEMMs (large M). */
  prefillFlops: number;
  /** Share of peak FLOP/s achieved by decode GEMMs (M = batch size, less efficient). */
  decodeFlops: number;
  /** Fixed per-step overhead: scheduling, input preparation, CUDA-graph launch, sampling setup. */
  stepOverheadSeconds: number;
  /** Per running request per step: sampling, detokenisation, output processing. */
  perSeqSeconds: number;
  /** Latency of one all-reduce with tensor parallelism (two per layer per step). */
  allReduceLatencySeconds: number;
  /** Share of device memory vLLM takes (--gpu-memory-utilization). */
  gpuMemoryUtilization: number;
  /** Activation, CUDA-graph and allocator reserve per GPU, GiB. */
  activationReserveGiB: number;
}

export const EFFICIENCY: Efficiency = {
  weightBandwidth: 0.85,
  kvBandwidth: 0.7,
  prefillFlops: 0.7,
  decodeFlops: 0.5,
  stepOverheadSeconds: 1.0e-3,
  perSeqSeconds: 8e-6,
  allReduceLatencySeconds: 8e-6,
  gpuMemoryUtilization: 0.9,
  activationReserveGiB: 3,
};

export const DEFAULT_MODEL_LOAD_SECONDS = 60;

const GIB = 1024 ** 3;

export interface Derived {
  step: StepCoefficients;
  kvCapacityTokens: number;
  /** Bytes of weights each GPU reads per step. */
  weightBytesPerGpu: number;
  /** KV-cache bytes per token of context, per GPU. */
  kvBytesPerTokenPerGpu: number;
}

/** Step costs and KV capacity of `model` at `weights` precision on `gpus` x `gpu` with tensor parallelism. */
export function derive(
  model: ModelSpec,
  gpu: GpuSpec,
  gpus: number,
  weights: "bf16" | "fp8",
  eff: Efficiency = EFFICIENCY,
): Derived {
  const datasheet = weights === "fp8" ? gpu.fp8Flops : gpu.bf16Flops;
  if (datasheet === undefined) throw new RangeError(`${gpu.type} has no ${weights} tensor cores`);
  const peak = datasheet * gpu.sustainedComputeFraction;
  const bytesPerParam = weights === "fp8" ? 1 : 2;
  const matrix = model.vocab * model.hidden; // embedding table; lm_head has the same shape
  // Quantized checkpoints keep the embedding and lm_head in BF16. The embedding is a lookup, not a full read.
  const readPerStep = (model.params - 2 * matrix) * bytesPerParam + matrix * 2;
  const stored = (model.params - 2 * matrix) * bytesPerParam + 2 * matrix * 2;
  const weightBytesPerGpu = readPerStep / gpus;
  const flopsPerToken = (2 * (model.params - matrix)) / gpus; // every matmul but the embedding lookup
  const kvBytesPerToken = 2 * model.layers * model.kvHeads * model.headDim * 2; // K and V, BF16 cache
  const kvBytesPerTokenPerGpu = kvBytesPerToken / gpus;

  // Tensor parallelism: two all-reduces of hidden-sized activations per layer per token, ring algorithm.
  const tp = gpus > 1;
  const allReduceBytesPerToken = tp ? (2 * model.layers * model.hidden * 2 * 2 * (gpus - 1)) / gpus : 0;
  const commPerToken = allReduceBytesPerToken / gpu.allReduceBandwidth;
  const commPerStep = tp ? 2 * model.layers * eff.allReduceLatencySeconds : 0;

  const step: StepCoefficients = {
    baseSeconds:
      weightBytesPerGpu / (gpu.bandwidth * eff.weightBandwidth) + eff.stepOverheadSeconds + commPerStep,
    perPrefillTokenSeconds: flopsPerToken / (peak * eff.prefillFlops) + commPerToken,
    perDecodeSeqSeconds: flopsPerToken / (peak * eff.decodeFlops) + eff.perSeqSeconds + commPerToken,
    perContextTokenSeconds: kvBytesPerTokenPerGpu / (gpu.bandwidth * eff.kvBandwidth),
  };
  const kvBytes =
    gpu.memoryGiB * GIB * eff.gpuMemoryUtilization - stored / gpus - eff.activationReserveGiB * GIB;
  const kvCapacityTokens = Math.floor(kvBytes / kvBytesPerTokenPerGpu);
  if (kvCapacityTokens < model.maxModelLen) {
    throw new RangeError(
      `${model.name} on ${gpus}x ${gpu.type}: KV cache too small (${kvCapacityTokens} tokens)`,
    );
  }
  return { step, kvCapacityTokens, weightBytesPerGpu, kvBytesPerTokenPerGpu };
}

/** Numbers measured on the model (capacity.test.ts re-measures them and fails when they drift by > 3%). */
interface Measured {
  saturatedOutputTokensPerSecond: number;
  maxTokensPerSecond: number;
  maxConcurrentRequests: number;
}

function profile(
  id: string,
  model: ModelSpec,
  gpuType: GpuType,
  gpus: number,
  weights: "bf16" | "fp8",
  measured: Measured,
  source: string,
  modelLoadSeconds = DEFAULT_MODEL_LOAD_SECONDS,
): ServingProfile {
  const gpu = GPUS[gpuType];
  const d = derive(model, gpu, gpus, weights);
  return {
    id,
    model: model.name,
    gpu: gpuType,
    gpusPerReplica: gpus,
    weights,
    maxNumBatchedTokens: gpu.defaultMaxNumBatchedTokens,
    maxNumSeqs: gpu.defaultMaxNumSeqs,
    kvCapacityTokens: d.kvCapacityTokens,
    maxModelLen: model.maxModelLen,
    step: d.step,
    saturatedOutputTokensPerSecond: measured.saturatedOutputTokensPerSecond,
    spec: {
      maxTokensPerSecond: measured.maxTokensPerSecond,
      maxConcurrentRequests: measured.maxConcurrentRequests,
    },
    modelLoadSeconds,
    source,
  };
}

export const PROFILES: readonly ServingProfile[] = [
  profile(
    "llama-3.1-8b-fp8/h100",
    LLAMA_3_1_8B,
    "H100",
    1,
    "fp8",
    { saturatedOutputTokensPerSecond: 5840, maxTokensPerSecond: 48800, maxConcurrentRequests: 445 },
    "MLPerf Inference v5.1 Llama-3.1-8B, Red Hat, vLLM 0.10, 1x H100: 5,777 tok/s Offline, 5,103 Server",
  ),
  profile(
    "llama-3.1-8b-fp8/l40s",
    LLAMA_3_1_8B,
    "L40S",
    1,
    "fp8",
    { saturatedOutputTokensPerSecond: 1630, maxTokensPerSecond: 12600, maxConcurrentRequests: 212 },
    "MLPerf Inference v5.1 Llama-3.1-8B, Red Hat, vLLM 0.10, 1x L40S: 1,642 tok/s Offline, 1,207 Server",
  ),
  profile(
    "llama-3.1-8b/a100",
    LLAMA_3_1_8B,
    "A100",
    1,
    "bf16",
    { saturatedOutputTokensPerSecond: 1320, maxTokensPerSecond: 9400, maxConcurrentRequests: 256 },
    "derived: same efficiencies; batch-1 decode checked against a vLLM sweep on A100 (~75 tok/s on 40GB)",
  ),
  profile(
    "llama-3.1-8b-fp8/l4",
    LLAMA_3_1_8B,
    "L4",
    1,
    "fp8",
    { saturatedOutputTokensPerSecond: 447, maxTokensPerSecond: 2780, maxConcurrentRequests: 62 },
    "derived: same efficiencies; 300 GB/s and 242 TFLOPS FP8 (about a third of an L40S)",
  ),
  profile(
    "llama-3.1-70b-fp8/4xh100",
    LLAMA_3_1_70B,
    "H100",
    4,
    "fp8",
    { saturatedOutputTokensPerSecond: 2540, maxTokensPerSecond: 19200, maxConcurrentRequests: 612 },
    "derived: tensor parallel 4 over NVLink, same efficiencies",
    120,
  ),
];

/** The profile with this id; throws naming the known ids when there is none. */
export function getProfile(id: string): ServingProfile {
  const p = PROFILES.find((x) => x.id === id);
  if (p === undefined) {
    throw new RangeError(`no serving profile "${id}"; known: ${PROFILES.map((x) => x.id).join(", ")}`);
  }
  return p;
}
