/**
 * Model threads (models/runtime/ort.ts): sessions run off the event loop, fail per call, and never hold a process
 * open.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHalves } from '../concepts/storage/float16.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads, ort, type Session } from '../models/runtime/ort.js';
import { bulk } from '../models/runtime/priority.js';
import type { Matrix } from '../models/types.js';
import { modelsDir } from './support/subjects.js';

const repoRoot = path.resolve(import.meta.dirname, '..');
const ENCODER = path.join(modelsDir, 'mobilenetv2-12-int8/mobilenetv2-12-int8-features.onnx');
const threads = new ModelThreads();

const batch = (n: number) => new ort.Tensor('float32', new Float32Array(n * 3 * 224 * 224).fill(0.5), [n, 3, 224, 224]);

describe('model threads', () => {
  let session: Session;

  beforeAll(async () => {
    session = await threads.openSession(ENCODER, { lanes: ['ort-test'] });
  });

  afterAll(async () => {
    await session.release();
  });

  it('keeps the event loop turning while a model runs', async () => {
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const run = session.run({ input: batch(16) }, ['features']).finally(() => (running = false));
    const out = await run;
    expect(out.features.dims).toEqual([16, 1280]);
    // A run on the calling thread (onnxruntime-node's own) blocks for all of its ~30-100 ms: no turn at all.
    expect(turns).toBeGreaterThan(5);
  });

  it('copies the feeds unless they are handed over, then moves them', async () => {
    const kept = batch(1);
    await session.run({ input: kept }, ['features']);
    expect((kept.data as Float32Array).length).toBe(3 * 224 * 224);
    const moved = batch(1);
    await session.run({ input: moved }, ['features'], true);
    expect((moved.data as Float32Array).length).toBe(0);
  });

  it('gives inputs back zero-filled, the ones handed over included', async () => {
    const length = 3 * 224 * 224;
    const used = session.inputBuffer(length).fill(7);
    await session.run({ input: new ort.Tensor('float32', used, [1, 3, 224, 224]) }, ['features'], true);
    const next = session.inputBuffer(length);
    expect(next.length).toBe(length);
    expect(next.every((v) => v === 0)).toBe(true);
  });

  it('answers a bad call with an error and goes on serving', async () => {
    await expect(session.run({ nope: batch(1) }, ['features'])).rejects.toThrow(/input|nope/i);
    await expect(
      session.run({ input: new ort.Tensor('float32', new Float32Array(10), [1, 10]) }, ['features']),
    ).rejects.toThrow();
    const out = await session.run({ input: batch(2) }, ['features']);
    expect(out.features.dims).toEqual([2, 1280]);
  });

  it('runs an interactive call before bulk calls that were queued first', async () => {
    const order: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    const queued = bulk(async () =>
      [1, 2, 3].map((i) => track(`bulk ${i}`, session.run({ input: batch(8) }, ['features']))),
    );
    const calls = await queued;
    await Promise.all([...calls, track('interactive', session.run({ input: batch(1) }, ['features']))]);
    // The first bulk call was on the thread already; the interactive one goes next, not last.
    expect(order).toEqual(['bulk 1', 'interactive', 'bulk 2', 'bulk 3']);
  });

  it('refuses a model that does not load, with the reason', async () => {
    await expect(threads.openSession(new Uint8Array([1, 2, 3]))).rejects.toThrow(/protobuf|model|parse|load/i);
    await expect(threads.openSession(path.join(modelsDir, 'no-such-model.onnx'))).rejects.toThrow();
  });

  it('runs sessions of different lanes side by side, each with its own results', async () => {
    const algebra = await OnnxLinearAlgebra.open(threads);
    try {
      const a: Matrix = { data: Float32Array.from({ length: 6 }, (_, i) => i + 1), rows: 2, cols: 3 };
      const [product, features] = await Promise.all([
        algebra.mulTransposed(a, a),
        session.run({ input: batch(4) }, ['features']),
      ]);
      expect(Array.from(product.data)).toEqual([14, 32, 32, 77]);
      expect(features.features.dims).toEqual([4, 1280]);
    } finally {
      await algebra.dispose();
    }
  });

  it('casts float16 bits to float32 as JavaScript reads them, for every finite half', async () => {
    const algebra = await OnnxLinearAlgebra.open(threads);
    try {
      const halves = Uint16Array.from({ length: 0x10000 }, (_, h) => h).filter((h) => (h & 0x7c00) !== 0x7c00);
      expect(await algebra.fromHalves(halves)).toEqual(fromHalves(halves));
    } finally {
      await algebra.dispose();
    }
  });

  it('opens a model in several lanes and spreads calls over them, with the same results', async () => {
    const spread = await threads.openSession(ENCODER, { lanes: ['ort-test-a', 'ort-test-b'] });
    try {
      expect(spread.parallelism).toBe(2);
      const input = () => ({
        input: new ort.Tensor(
          'float32',
          Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(i)),
          [2, 3, 224, 224],
        ),
      });
      const a = (await session.run(input(), ['features'])).features.data as Float32Array;
      const together = await Promise.all([1, 2, 3].map(() => spread.run(input(), ['features'])));
      for (const out of together) {
        const b = out.features.data as Float32Array;
        expect(b.length).toBe(a.length);
        // One thread per lane here against every core in the test's own lane: sums in another order, same values.
        for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 3);
      }
    } finally {
      await spread.release();
    }
  });

  it('does not keep a process alive once its models are idle', async () => {
    // A script that opens a model, runs it and never releases it must still exit on its own.
    const script = `import { ModelThreads, ort } from ${JSON.stringify(path.join(repoRoot, 'models/runtime/ort.ts'))};
      const s = await new ModelThreads().openSession(${JSON.stringify(ENCODER)});
      const input = new ort.Tensor('float32', new Float32Array(3 * 224 * 224), [1, 3, 224, 224]);
      const out = await s.run({ input }, ['features']);
      console.log(out.features.dims.join('x'));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: repoRoot, timeout: 60_000 },
    );
    expect(stdout.trim()).toBe('1x1280');
  });
});
