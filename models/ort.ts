/** The one place that opens onnxruntime sessions, tuned for a small CPU box. */
import os from 'node:os';
import ort from 'onnxruntime-node';

/** Intra-op threads per session: NOMEN_THREADS, else every core. */
export function threadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.NOMEN_THREADS;
  if (raw === undefined || raw === '') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`NOMEN_THREADS must be a positive integer, got "${raw}"`);
  return n;
}

/** Opens a model from a file path or from the bytes of a graph built in memory. */
export function createSession(model: string | Uint8Array): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threadCount(),
    // Our graphs are chains: parallel branches would only add thread hand-offs on 2 cores.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // The arena keeps every peak allocation for the process's life; batch sizes vary per request.
    enableCpuMemArena: false,
    // Idle pool threads must not spin: the encoder and the detector run back to back on the same 2 cores.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

export { ort };
