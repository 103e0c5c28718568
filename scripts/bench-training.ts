/**
 * How head training scales with a user's concepts: trainHeads (every head of the user, with calibration, as a
 * refinement trains them; and the newest head alone, as a registration's draft does) on generated views shaped
 * like a registration's (5 photos, each with 7 positive views, 8 region probes and 3 backgrounds; 1280-d),
 * against a 1000-row negative bank, for a growing number of concepts.
 *
 *   npx tsx scripts/bench-training.ts [--concepts 12,50,100] [--runs 3]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { seeded } from '../concepts/random.js';
import { trainHeads, type TrainingConcept } from '../concepts/learning/training.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';

const { values: args } = parseArgs({
  options: { concepts: { type: 'string', default: '12,50,100' }, runs: { type: 'string', default: '3' } },
});

const DIM = 1280;
const next = seeded(7);

function unit(): Float32Array {
  const v = Float32Array.from({ length: DIM }, () => next() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function concepts(count: number): TrainingConcept[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `c${i}`,
    category: i % 3 === 0 ? 'dog' : 'thing',
    views: Array.from({ length: 5 }, (_, photo) => [
      ...Array.from({ length: 7 }, () => ({ kind: 'positive' as const, photo, vector: unit() })),
      ...Array.from({ length: 8 }, () => ({ kind: 'probe' as const, photo, vector: unit() })),
      ...Array.from({ length: 3 }, () => ({ kind: 'background' as const, photo, vector: unit() })),
    ]).flat(),
  }));
}

/** Peak resident memory of this process so far (VmHWM), in MB. */
const peakRssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;

const algebra = await OnnxLinearAlgebra.open(new ModelThreads());
const bank = { data: Float32Array.from({ length: 1000 * DIM }, () => next() - 0.5), rows: 1000, cols: DIM };
console.log(`nomen training bench: trainHeads on generated views, ${DIM}-d, bank of ${bank.rows}`);
for (const count of args.concepts.split(',').map(Number)) {
  const user = concepts(count);
  const best = async (only?: Set<string>) => {
    const times: number[] = [];
    for (let run = 0; run < Number(args.runs); run++) {
      const t = performance.now();
      await trainHeads(user, bank, algebra, DIM, undefined, only);
      times.push(performance.now() - t);
    }
    return Math.min(...times).toFixed(0);
  };
  // Every head (a refinement) and the newest one alone against all the others (a registration's draft).
  const all = await best();
  const newest = await best(new Set([user[user.length - 1].id]));
  console.log(
    `${String(count).padStart(4)} concepts: best of ${args.runs}: every head ${all} ms, the newest alone ${newest} ` +
      `ms; process peak RSS so far ${peakRssMb().toFixed(0)} MB`,
  );
}
await algebra.dispose();
