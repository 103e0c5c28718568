/** The body of a model thread (see ort.ts): holds onnxruntime sessions and answers requests one at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { drawSource, fillCanvas, type TensorCanvas } from '../image/resample.js';
import type { PixelBox } from '../types.js';
import { cpuFlags, hasVnni } from './cpu-flags.js';

export interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

/**
 * Regions that the model thread draws into one input before running, so that crop preparation runs on the
 * model threads (and in their priority order), not on the event loop. `pixels` holds what the regions read
 * (resample.ts cutRegion); each source's image is a span of it, given as `at` (bytes), width and height.
 */
export interface Draws {
  input: string;
  canvas: Omit<TensorCanvas, 'data' | 'offset'>;
  pixels: Uint8Array;
  /** `fill`: a rectangle of the canvas painted one colour before the region is drawn (a zoomed-out view's frame). */
  regions: {
    at: number;
    width: number;
    height: number;
    src: PixelBox;
    dst: PixelBox;
    flip: boolean;
    offset: number;
    fill?: { rect: PixelBox; rgb: [number, number, number] };
  }[];
}

export type Call =
  | { op: 'open'; model: string | Uint8Array; threads: number; arena: boolean }
  | {
      op: 'run';
      session: number;
      feeds: Record<string, WireTensor>;
      fetches?: string[];
      handBack?: boolean;
      draws?: Draws;
    }
  | { op: 'release'; session: number };

export type Request = Call & { id: number };

export type Reply =
  | { id: number; inputNames: readonly string[]; outputNames: readonly string[] }
  /** `inputs`: the feeds' buffers, handed back for reuse when the call asked for it. */
  | { id: number; outputs: Record<string, WireTensor>; inputs?: ArrayBuffer[] }
  | { id: number; error: string };

/** Buffers that can move instead of being copied: only those that a tensor owns whole. */
export function movable(tensors: Record<string, WireTensor>): ArrayBuffer[] {
  return Object.values(tensors).flatMap(({ data }) =>
    ArrayBuffer.isView(data) &&
    data.buffer instanceof ArrayBuffer &&
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength
      ? [data.buffer]
      : [],
  );
}

/**
 * Int8 as u8u8 where the CPU has no VNNI: u8s8 saturates there (AVX2), so int8 models would answer differently by
 * CPU; with VNNI, u8s8 is exact already and the setting would cost memory (~50 MB) and time.
 */
const u8u8 = hasVnni(cpuFlags()) ? '0' : '1';

function open(model: string | Uint8Array, threads: number, arena: boolean): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model as string, {
    intraOpNumThreads: threads,
    // Our graphs are chains: parallel branches would only add thread hand-offs on small machines.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    // Kept between runs only where the caller asks (see SessionOptions.reuseMemory in ort.ts).
    enableCpuMemArena: arena,
    // Idle pool threads must not spin: several models share the same few cores.
    extra: {
      session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' }, x64quantprecision: u8u8 },
    },
  });
}

async function answer(
  sessions: Map<number, ort.InferenceSession>,
  req: Request,
): Promise<{ reply: Reply; transfer?: ArrayBuffer[] }> {
  if (req.op === 'open') {
    const session = await open(req.model, req.threads, req.arena);
    sessions.set(req.id, session);
    return { reply: { id: req.id, inputNames: session.inputNames, outputNames: session.outputNames } };
  }
  const session = sessions.get(req.session);
  if (!session) throw new Error(`no session ${req.session} in this thread`);
  if (req.op === 'release') {
    sessions.delete(req.session);
    await session.release();
    return { reply: { id: req.id, outputs: {} } };
  }
  if (req.draws) {
    const { input, canvas, pixels, regions } = req.draws;
    const data = req.feeds[input]?.data;
    if (!(data instanceof Float32Array)) throw new Error(`no float input "${input}" to draw into`);
    for (const r of regions) {
      const image = { data: pixels.subarray(r.at, r.at + r.width * r.height * 3), width: r.width, height: r.height };
      const at = { ...canvas, data, offset: r.offset };
      if (r.fill) fillCanvas(at, r.fill.rgb, r.fill.rect);
      drawSource({ image, src: r.src }, at, r.dst, r.flip);
    }
  }
  const feeds = Object.fromEntries(
    Object.entries(req.feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data as never, t.dims)]),
  );
  const out = await session.run(feeds, req.fetches ?? session.outputNames);
  const outputs = Object.fromEntries(
    Object.entries(out).map(([name, t]) => [name, { type: t.type, data: t.data, dims: t.dims }]),
  );
  // Back to the caller for its next input: left here, it would wait for this thread's rare collections.
  const inputs = req.handBack
    ? [...movable(req.feeds), ...(req.draws ? [req.draws.pixels.buffer as ArrayBuffer] : [])]
    : [];
  return { reply: { id: req.id, outputs, inputs }, transfer: [...movable(outputs), ...inputs] };
}

if (parentPort && workerData?.nomenModels) {
  const port = parentPort;
  const sessions = new Map<number, ort.InferenceSession>();
  port.on('message', (req: Request) =>
    answer(sessions, req).then(
      ({ reply, transfer }) => port.postMessage(reply, transfer),
      (err: Error) => port.postMessage({ id: req.id, error: err.message } satisfies Reply),
    ),
  );
}
