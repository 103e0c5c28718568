/**
 * The photo library at scale: generated region vectors for `--photos` photos of one user (and `--others` photos
 * of `--users` other users beside them) written through the library's store, then `GET photos?concept=` answered
 * in process for a concept registered from real photos: the first query (every vector read), then p50/p99 of the
 * queries that find the scores kept, then the first after a retraining (answered from the scores of before) and
 * how long the reading of the retrained heads takes to land; bytes on disk per photo, write rate. Last, with
 * `--concepts` DreamBooth subjects registered and `--present` of the user's photos holding a real photo of one of
 * them (its vector from the encoder, every region the same box, so every higher rival contests the place), the
 * present-only query (one place, one subject decided on each present photo) beside `all=true` (decided on none).
 * Usage: npm run bench:library [-- --photos 10000 --others 0 --users 0 --regions 7 --queries 20 --concepts 8
 * --present 0.05]
 * 1M photos over 10k users: --photos 100 --others 999900 --users 9999
 */
import { faceVectorSize } from '../concepts/people/open-people.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PhotoStore } from '../concepts/library/photo-store.js';
import type { IndexedPhoto } from '../concepts/library/photo-records.js';
import { PHOTO_REGIONS_TABLE } from '../concepts/library/photo-records.js';
import { decodeImage } from '../concepts/intake/intake.js';
import { seeded } from '../concepts/random.js';
import type { Scope } from '../concepts/types.js';
import { cpuModel } from './lib/cpu.js';
import { percentile } from './lib/metrics.js';
import { defaultDataDir, loadSubjects, type Subject } from './lib/dreambooth.js';
import { openScriptRuntime, scriptModels } from './lib/runtime.js';
import { openEncoder } from '../models/load.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';

const { values: args } = parseArgs({
  options: {
    photos: { type: 'string', default: '10000' },
    others: { type: 'string', default: '0' },
    /** Other users sharing `others` evenly; by default one per 1000 of their photos. */
    users: { type: 'string' },
    regions: { type: 'string', default: '7' },
    queries: { type: 'string', default: '20' },
    dim: { type: 'string', default: '1280' },
    concepts: { type: 'string', default: '8' },
    present: { type: 'string', default: '0.05' },
  },
});

/** The subjects registered: Biscuit the dog first, Tom the cat as the retraining, then the others of classes.csv. */
function subjects(count: number): Subject[] {
  const all = loadSubjects(defaultDataDir, 3);
  const named = (subject: string, name: string) => ({ ...all.find((s) => s.name === subject)!, name });
  const rest = all.filter((s) => s.name !== 'dog' && s.name !== 'cat');
  return [named('dog', 'Biscuit'), named('cat', 'Tom'), ...rest].slice(0, Math.max(2, count));
}

/** Whole-photo vectors of the subjects' photos that registration does not use, by the active encoder. */
async function heldOutVectors(subjects: Subject[]): Promise<Float32Array[]> {
  const threads = new ModelThreads();
  const algebra = await OnnxLinearAlgebra.open(threads);
  const { modelsDir, encoder: folder } = scriptModels();
  const encoder = await openEncoder(threads, modelsDir, folder, algebra);
  try {
    const images = await Promise.all(subjects.flatMap((s) => s.query).map((f) => decodeImage(readFileSync(f))));
    return await encoder.embed(images.map(({ image }) => ({ image })));
  } finally {
    await Promise.all([encoder.dispose(), algebra.dispose()]);
  }
}

/** Seeded unit vectors: the store and the reading see the same bytes as for real ones. */
function unitVectors(dim: number, count = 4096): Float32Array[] {
  const rnd = seeded(1);
  return Array.from({ length: count }, () => {
    const v = Float32Array.from({ length: dim }, () => rnd() - 0.5);
    const norm = Math.sqrt(v.reduce((sum, x) => sum + x * x, 0));
    return v.map((x) => x / norm);
  });
}

/** Photos of vectors drawn from `pool`; a share `present` of them has one region of a `real` vector instead. */
function generator(pool: Float32Array[], regions: number, real: Float32Array[] = [], present = 0) {
  // Picks from a stream of their own: the pool's is seeded(1).
  const rnd = seeded(2);
  return (n: number, prefix: string): IndexedPhoto[] =>
    Array.from({ length: n }, (_, i) => ({
      id: `${prefix}${i}`,
      regions: Array.from({ length: regions }, (_, r) => ({
        box: [0, 0, 1, 1],
        vector:
          r === 0 && real.length > 0 && rnd() < present
            ? real[Math.floor(rnd() * real.length)]
            : pool[Math.floor(rnd() * pool.length)],
      })),
    }));
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) total += (await stat(path.join(e.parentPath, e.name))).size;
  return total;
}

async function main() {
  const [photos, others, regions, dim] = [args.photos, args.others, args.regions, args.dim].map(Number);
  const users = Number(args.users ?? Math.ceil(others / 1000));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-bench-library-'));
  const scope: Scope = { tenant: 'bench', user: 'owner' };
  const registered = subjects(Number(args.concepts));
  const present = Number(args.present);
  const real = present > 0 ? await heldOutVectors(registered) : [];
  const pool = unitVectors(dim);
  const ownPhotos = generator(pool, regions, real, present);
  const generated = generator(pool, regions);
  try {
    const store = await PhotoStore.open(dataDir, dim, faceVectorSize());
    const t = performance.now();
    const chunk = 1000;
    const write = async (user: Scope, n: number, made = generated) => {
      for (let i = 0; i < n; i += chunk) await store.add(user, made(Math.min(chunk, n - i), `p${i}-`));
    };
    await write(scope, photos, ownPhotos);
    for (let u = 0; u < users; u++) {
      const n = Math.floor(((u + 1) * others) / users) - Math.floor((u * others) / users);
      await write({ tenant: 'bench', user: `other-${u}` }, n);
      if (u % 1000 !== 999) continue;
      // Upkeep as the service's would do it: a commit per user leaves a fragment each, and every commit's manifest
      // lists them all.
      await store.compact(0);
      console.log(`${u + 1} of ${users} other users written, ${((performance.now() - t) / 1000).toFixed(0)} s`);
    }
    const writeS = (performance.now() - t) / 1000;
    await store.compact(0);
    const precision = store.half ? 'float16' : 'float32';
    store.close();
    const bytes = await bytesUnder(path.join(dataDir, `${PHOTO_REGIONS_TABLE}.lance`));

    const runtime = await openScriptRuntime(dataDir);
    try {
      const register = async ({ name, category, train }: Subject) => {
        const images = train.map((file) => ({ bytes: readFileSync(file) }));
        return (await runtime.service.register(scope, { name, category, images })).id;
      };
      const id = await register(registered[0]);
      await runtime.service.refined();
      const query = async (all = true) => {
        const s = performance.now();
        await runtime.library.find(scope, [id], { limit: 50, all });
        return performance.now() - s;
      };
      // The first query after a head changed reads every vector; the others find the photos' scores kept.
      const firstMs = await query();
      const timings = async (all = true) => {
        const ms: number[] = [];
        for (let q = 0; q < Number(args.queries); q++) ms.push(await query(all));
        return `p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms`;
      };
      const keptTimes = await timings();
      // A second concept retrains every head of the user, Biscuit's too: the scores of before answer meanwhile.
      await register(registered[1]);
      await runtime.service.refined();
      const retrainedMs = await query();
      const reading = performance.now();
      await runtime.library.settled(scope);
      const landedMs = performance.now() - reading + retrainedMs;
      const afterMs = await query();
      for (const s of registered.slice(2)) await register(s);
      await runtime.service.refined();
      await query();
      await runtime.library.settled(scope);
      const [allTimes, presentTimes] = [await timings(true), await timings(false)];
      const found = (await runtime.library.find(scope, [id], { limit: photos, all: false })).photos.length;
      console.log(
        `\nnomen bench:library: ${photos} photos of one user` +
          `${others ? ` and ${others} of ${users} other users` : ''}, ` +
          `${regions} regions each, ${dim}-d ${precision} vectors (generated)`,
      );
      console.log(`CPU: ${cpuModel()}, ${os.availableParallelism()} cores`);
      const all = photos + others;
      console.log(
        `write: ${(all / writeS).toFixed(0)} photos/s; on disk ${(bytes / all).toFixed(0)} bytes per photo ` +
          `(${(bytes / 1024 ** 2).toFixed(0)} MB after compaction)`,
      );
      console.log(
        `GET photos?concept= (all=true, limit 50), in process: first (reads the vectors) ${firstMs.toFixed(0)} ms; ` +
          `then ${keptTimes} over ${args.queries} queries; first after a retraining (the scores of before) ` +
          `${retrainedMs.toFixed(1)} ms, the retrained heads' reading landed after ${landedMs.toFixed(0)} ms, the ` +
          `query then ${afterMs.toFixed(1)} ms`,
      );
      console.log(
        `with ${registered.length} concepts and ${present * 100}% of the photos holding a real photo of one: ` +
          `all=true ${allTimes}; present only (one place, one subject on each present photo) ${presentTimes}, ` +
          `Biscuit present on ${found} photos`,
      );
    } finally {
      await runtime.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
