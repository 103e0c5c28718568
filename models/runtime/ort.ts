/**
 * The one place that opens onnxruntime sessions. onnxruntime-node runs inference synchronously on the
 * calling thread, so sessions live in worker threads ("lanes"): the event loop keeps serving while a
 * model runs, JavaScript pre-processing overlaps inference, models of different lanes run side by side,
 * and interactive calls go before bulk ones.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { movable, type Call, type Draws, type Reply, type Request, type WireTensor } from './inference-worker.js';
import { ModelError } from './model-error.js';
import { isBulk } from './priority.js';

/** Intra-op threads per session: NOMEN_THREADS, else every core. */
export function threadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.NOMEN_THREADS;
  if (raw === undefined || raw === '') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`NOMEN_THREADS must be a positive integer, got "${raw}"`);
  return n;
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** How many runs can go at once: one per lane the model was opened in. */
  readonly parallelism: number;
  /** Input buffers of the session's model threads, handed back after a run that takes them over. */
  inputBuffer(length: number): Float32Array;
  pixelBuffer(bytes: number): Uint8Array;
  /**
   * `handOver`: the feeds' buffers move to the model's thread (the caller must not touch them again) instead of
   * being copied; those taken from inputBuffer() or pixelBuffer() come back to them afterwards. `draws`:
   * regions the model's thread draws into one of the feeds first.
   */
  run(
    feeds: Record<string, ort.Tensor>,
    fetches?: string[],
    handOver?: boolean,
    draws?: Draws,
  ): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  /** Intra-op threads per lane; at most threadCount(), by default an equal share of it per lane. */
  threads?: number;
  /**
   * Sessions of one lane share a thread (and run one at a time); each thread costs ~25 MB. A model opened
   * in several lanes runs each call on the least busy of them. Default: ['models'].
   */
  lanes?: string[];
  /**
   * Keep activation memory between runs (onnxruntime's arena). Worth it for models run all the time on
   * inputs of a few fixed shapes: without it each run maps and faults in fresh pages (~55 ms of system
   * time per recognition). Not for inputs of any shape, whose peaks the arena would keep for good.
   */
  reuseMemory?: boolean;
}

const workerFile = new URL(`./inference-worker${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);

function startWorker(): Worker {
  // Tensors live outside the JavaScript heap; a small young generation keeps an idle thread small.
  const options = { workerData: { nomenModels: true }, resourceLimits: { maxYoungGenerationSizeMb: 4 } };
  if (!workerFile.pathname.endsWith('.ts')) return new Worker(workerFile, options);
  // Run from source (tsx, vitest): workers do not inherit module loaders, so this one registers tsx first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot =
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return ` +
    `import(${JSON.stringify(workerFile.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

interface Job {
  req: Call;
  transfer: ArrayBuffer[];
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

/**
 * One model thread and the calls waiting for it. Calls go to the thread one at a time, interactive ones
 * first (see priority.ts); the thread never holds a queue of its own that a later urgent call would wait behind.
 */
class Lane {
  private readonly worker = startWorker();
  private readonly urgent: Job[] = [];
  private readonly deferred: Job[] = [];
  private current?: Job & { id: number };
  private nextId = 1;
  private exited?: ModelError;
  sessions = 0;

  /** Calls running or waiting here. */
  get load(): number {
    return (this.current ? 1 : 0) + this.urgent.length + this.deferred.length;
  }

  /** `onLost` hears once that the thread is gone. */
  constructor(onLost: (err: ModelError) => void) {
    this.worker.on('message', (reply: Reply) => {
      const job = this.current;
      if (!job || reply.id !== job.id) return;
      this.current = undefined;
      if ('error' in reply) job.reject(new Error(reply.error));
      else job.resolve(reply);
      this.next();
    });
    const fail = (err: Error) => {
      // A lost model thread is not the caller's fault: 503 with Retry-After, and /readyz says so until a restart.
      this.exited ??= new ModelError(
        'model_unavailable',
        `a model thread stopped: ${err.message}; the process needs a restart`,
        30,
      );
      onLost(this.exited);
      for (const job of [this.current, ...this.urgent.splice(0), ...this.deferred.splice(0)]) job?.reject(this.exited);
      this.current = undefined;
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.worker.unref();
  }

  call(req: Call, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      (isBulk() ? this.deferred : this.urgent).push({ req, transfer, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.current || this.exited) return;
    const job = this.urgent.shift() ?? this.deferred.shift();
    // An idle model thread must not keep the process alive.
    if (!job) return void this.worker.unref();
    this.current = { ...job, id: this.nextId++ };
    this.worker.ref();
    this.worker.postMessage({ ...job.req, id: this.current.id } satisfies Request, job.transfer);
  }

  async stop(): Promise<void> {
    this.exited ??= new ModelError('model_unavailable', 'the model was released');
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** Per size asked for: a few batches in flight, each lane's and the one being built. */
const SPARE_PER_SIZE = 4;
/** Sizes asked for lately, at most this many: only their buffers are kept. */
const SPARE_SIZES = 16;
/** At most this many bytes kept spare in all. */
const SPARE_BYTES = 48 << 20;

/**
 * Buffers for model inputs, reused: one handed over to a model thread comes back with the reply and waits for
 * the next input of its size. Fresh buffers cost ~25 MB outside the JavaScript heap per recognition, left for
 * collections that a model thread's small heap rarely runs.
 */
class SpareBuffers {
  private readonly spare = new Map<number, ArrayBuffer[]>();
  private bytes = 0;

  /** A buffer of `bytes`: a spare one of that size when there is one, else new (zero-filled). */
  take(bytes: number): ArrayBuffer {
    const list = this.spare.get(bytes) ?? [];
    // Most recently asked sizes last, so that the least recent one is dropped first.
    this.spare.delete(bytes);
    this.spare.set(bytes, list);
    if (this.spare.size > SPARE_SIZES) {
      const [oldest, dropped] = this.spare.entries().next().value!;
      this.bytes -= oldest * dropped.length;
      this.spare.delete(oldest);
    }
    const reused = list.pop();
    if (reused) this.bytes -= bytes;
    return reused ?? new ArrayBuffer(bytes);
  }

  recycle(buffers: ArrayBuffer[] = []): void {
    for (const b of buffers) {
      const list = this.spare.get(b.byteLength);
      if (!list || list.length >= SPARE_PER_SIZE || this.bytes + b.byteLength > SPARE_BYTES) continue;
      list.push(b);
      this.bytes += b.byteLength;
    }
  }
}

const toWire = (t: ort.Tensor): WireTensor => ({ type: t.type, data: t.data, dims: t.dims });
const fromWire = (t: WireTensor) => new ort.Tensor(t.type, t.data as never, t.dims);

/**
 * The model threads of a runtime: its lanes by name, the input buffers they hand back, and whether one was lost.
 * Every model of a runtime opens through the same one, so that models of one lane share its thread.
 */
export class ModelThreads {
  private readonly lanes = new Map<string, Lane>();
  private readonly spare = new SpareBuffers();
  /** The first model thread lost, if any. */
  private lost?: ModelError;

  /** 'ok', or why models cannot run (for /readyz). */
  health(): string {
    return this.lost ? this.lost.message : 'ok';
  }

  /** A zero-filled Float32Array of `length`, a reused buffer when one of that size is free. */
  inputBuffer(length: number): Float32Array {
    return new Float32Array(this.spare.take(length * Float32Array.BYTES_PER_ELEMENT)).fill(0);
  }

  /** Bytes for pixels handed over with a call (Draws.pixels), at least `bytes` of them; reused like inputBuffer's. */
  pixelBuffer(bytes: number): Uint8Array {
    // Sizes rounded up to a power of two, so that a few buffers serve regions of every size.
    return new Uint8Array(this.spare.take(2 ** Math.ceil(Math.log2(Math.max(bytes, 1 << 16)))));
  }

  /** Opens a model from a file path or the bytes of a graph built in memory, in the thread of each of its lanes. */
  async openSession(model: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const names = options.lanes ?? ['models'];
    const threads = Math.min(options.threads ?? Math.max(1, Math.floor(threadCount() / names.length)), threadCount());
    const opened = await Promise.allSettled(
      names.map((name) => this.openIn(name, model, threads, options.reuseMemory ?? false)),
    );
    const copies = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find((o) => o.status === 'rejected');
    if (failed) {
      await Promise.all(copies.map((c) => c.release()));
      throw failed.reason;
    }
    return {
      inputNames: copies[0].inputNames,
      outputNames: copies[0].outputNames,
      parallelism: copies.length,
      inputBuffer: (length) => this.inputBuffer(length),
      pixelBuffer: (bytes) => this.pixelBuffer(bytes),
      run(feeds, fetches, handOver = false, draws) {
        const idlest = copies.reduce((best, c) => (c.lane.load < best.lane.load ? c : best));
        return idlest.run(feeds, fetches, handOver, draws);
      },
      async release() {
        await Promise.all(copies.map((c) => c.release()));
      },
    };
  }

  /** The model opened in one lane's thread. */
  private async openIn(name: string, model: string | Uint8Array, threads: number, arena: boolean) {
    const lane = this.lanes.get(name) ?? new Lane((err) => (this.lost ??= err));
    this.lanes.set(name, lane);
    lane.sessions++;
    let opened: Reply;
    try {
      opened = await lane.call({ op: 'open', model, threads, arena });
    } catch (err) {
      await this.releaseFrom(name, lane);
      throw err;
    }
    if (!('inputNames' in opened)) throw new Error('inference thread answered out of turn');
    const session = opened.id;
    return {
      lane,
      inputNames: opened.inputNames,
      outputNames: opened.outputNames,
      run: async (
        feeds: Record<string, ort.Tensor>,
        fetches: string[] | undefined,
        handOver: boolean,
        draws?: Draws,
      ) => {
        const wire = Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, toWire(t)]));
        const moving = handOver ? [...movable(wire), ...(draws ? [draws.pixels.buffer as ArrayBuffer] : [])] : [];
        const reply = await lane.call({ op: 'run', session, feeds: wire, fetches, handBack: handOver, draws }, moving);
        if (!('outputs' in reply)) throw new Error('inference thread answered out of turn');
        this.spare.recycle(reply.inputs);
        return Object.fromEntries(Object.entries(reply.outputs).map(([n, t]) => [n, fromWire(t)]));
      },
      release: async () => {
        await lane.call({ op: 'release', session }).catch(() => undefined);
        await this.releaseFrom(name, lane);
      },
    };
  }

  /** The last session of a lane stops its thread. */
  private async releaseFrom(name: string, lane: Lane): Promise<void> {
    if (--lane.sessions > 0) return;
    if (this.lanes.get(name) === lane) this.lanes.delete(name);
    await lane.stop();
  }
}

export { ort, type Draws };
