/**
 * Recognition accuracy on the shared DreamBooth photos: every subject registered for one user from its first
 * photos, every other photo queried against all concepts, then scenes of 2-4 subjects pasted onto another photo.
 * Usage: npm run eval [-- --train 3 --scenes 60 --seed 1 --drafts]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import type { Box, Match } from '../concepts/types.js';
import { DEFAULT_ENCODER } from '../services/config.js';
import { seeded } from '../concepts/random.js';
import { defaultDataDir, loadSubjects, type Subject } from './lib/dreambooth.js';
import { averagePrecision, Confusion, mean, percentile } from './lib/metrics.js';
import { openScriptRuntime } from './lib/runtime.js';

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '3' },
    scenes: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    data: { type: 'string', default: defaultDataDir },
    // The heads that registration answers with, before their background refinement: every concept kept a draft.
    drafts: { type: 'boolean', default: false },
  },
});

interface Scene {
  jpeg: Buffer;
  background: string;
  pasted: { subject: string; rect: Box }[];
}

/** Pastes 2-4 subjects' photos at random places and sizes onto another subject's photo, without overlaps. */
async function makeScene(subjects: Subject[], rnd: () => number): Promise<Scene> {
  const pick = <T,>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const bg = pick(subjects);
  const others = subjects.filter((s) => s !== bg).sort(() => rnd() - 0.5).slice(0, 2 + Math.floor(rnd() * 3));
  const W = 768;
  const background = await sharp(pick(bg.query)).resize(W, W, { fit: 'inside' }).toBuffer({ resolveWithObject: true });
  const H = background.info.height;
  const bw = background.info.width;
  const placed: { left: number; top: number; w: number; h: number }[] = [];
  const layers: OverlayOptions[] = [];
  const pasted: Scene['pasted'] = [];
  for (const s of others) {
    const file = pick(s.query);
    const meta = await sharp(file).metadata();
    for (let attempt = 0; attempt < 50; attempt++) {
      const w = Math.round(bw * (0.25 + rnd() * 0.2));
      const h = Math.round((w * meta.height!) / meta.width!);
      if (h > H) continue;
      const left = Math.floor(rnd() * (bw - w));
      const top = Math.floor(rnd() * (H - h));
      const overlaps = placed.some((p) => left < p.left + p.w && p.left < left + w && top < p.top + p.h && p.top < top + h);
      if (overlaps) continue;
      placed.push({ left, top, w, h });
      layers.push({ input: await sharp(file).resize(w, h).toBuffer(), left, top });
      pasted.push({ subject: s.name, rect: [left / bw, top / H, w / bw, h / H] });
      break;
    }
  }
  const jpeg = await sharp(background.data).composite(layers).jpeg({ quality: 90 }).toBuffer();
  return { jpeg, background: bg.name, pasted };
}

/** A box hits a pasted photo when most of it lies on that photo. */
function hits(box: Box, rect: Box): boolean {
  const w = Math.max(0, Math.min(box[0] + box[2], rect[0] + rect[2]) - Math.max(box[0], rect[0]));
  const h = Math.max(0, Math.min(box[1] + box[3], rect[1] + rect[3]) - Math.max(box[1], rect[1]));
  return (w * h) / (box[2] * box[3]) >= 0.6;
}

async function main() {
  const subjects = loadSubjects(args.data!, Number(args.train));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-eval-'));
  const runtime = await openScriptRuntime(dataDir, { refine: !args.drafts });
  const scope = { tenant: 'eval', user: 'eval-user' };
  try {
    const ids = new Map<string, string>();
    const registerMs: number[] = [];
    for (const s of subjects) {
      const t = performance.now();
      const c = await runtime.service.create(scope, { name: s.name, category: s.category, images: s.train.map((f) => ({ bytes: readFileSync(f) })) });
      registerMs.push(performance.now() - t);
      ids.set(c.id, s.name);
    }
    // Registration answers with a draft head; what is measured here are the refined ones.
    const t = performance.now();
    await runtime.service.refined();
    const refineMs = performance.now() - t;
    const nameOf = (m: Match) => ids.get(m.id)!;
    const concepts = await runtime.service.list(scope);
    console.log(`thresholds: ${concepts.map((c) => `${c.name} ${c.threshold}`).join(', ')}`);

    const single = new Confusion();
    const ranking = new Map<string, { score: number; positive: boolean }[]>();
    let top1 = 0;
    let queries = 0;
    const recognizeMs: number[] = [];
    for (const s of subjects)
      for (const file of s.query) {
        const t = performance.now();
        const { concepts } = await runtime.service.recognize(scope, readFileSync(file), true);
        recognizeMs.push(performance.now() - t);
        queries++;
        if (nameOf(concepts[0]) === s.name) top1++;
        for (const m of concepts) {
          const positive = nameOf(m) === s.name;
          single.add(m.present, positive);
          ranking.set(nameOf(m), [...(ranking.get(nameOf(m)) ?? []), { score: m.score, positive }]);
          if (m.present !== positive) console.log(`  ${m.present ? 'false positive' : 'missed'}: ${path.relative(args.data!, file)} -> ${nameOf(m)} ${m.score}`);
        }
      }
    const mAP = mean([...ranking.values()].map(averagePrecision).filter(Number.isFinite));

    const rnd = seeded(Number(args.seed));
    const scene = new Confusion();
    let boxHits = 0;
    let boxTotal = 0;
    for (let i = 0; i < Number(args.scenes); i++) {
      const sc = await makeScene(subjects, rnd);
      const { concepts } = await runtime.service.recognize(scope, sc.jpeg, true);
      for (const m of concepts) {
        const name = nameOf(m);
        if (name === sc.background) continue; // the photo under the pastes shows its own subject, partly covered: neither right nor wrong
        const pasted = sc.pasted.find((p) => p.subject === name);
        scene.add(m.present, pasted !== undefined);
        if (m.present !== (pasted !== undefined)) console.log(`  scene ${i}: ${m.present ? 'false positive' : 'missed'} ${name} ${m.score} box ${m.box}${pasted ? ` pasted at ${pasted.rect.map((v) => v.toFixed(2))}` : ''}`);
        if (pasted && m.present) {
          boxTotal++;
          if (hits(m.box, pasted.rect)) boxHits++;
        }
      }
    }

    // Unregistered look-alikes: a second user registers every other subject; photos of the rest must name no one.
    const half = { tenant: 'eval', user: 'eval-half' };
    const registered = subjects.filter((_, i) => i % 2 === 0);
    for (const s of registered)
      await runtime.service.create(half, { name: s.name, category: s.category, images: s.train.map((f) => ({ bytes: readFileSync(f) })) });
    await runtime.service.refined();
    const distractors = subjects.filter((_, i) => i % 2 === 1).flatMap((s) => [...s.train, ...s.query]);
    let alarms = 0;
    for (const file of distractors) {
      const { concepts } = await runtime.service.recognize(half, readFileSync(file), false);
      if (concepts.length > 0) {
        alarms++;
        console.log(`  distractor named: ${path.relative(args.data!, file)} -> ${concepts.map((m) => `${m.name} ${m.score}`).join(', ')}`);
      }
    }

    const f = (x: number) => x.toFixed(3);
    console.log(
      `\nnomen eval: ${subjects.length} subjects, ${args.train} photos each, encoder ${process.env.NOMEN_ENCODER ?? DEFAULT_ENCODER}${args.drafts ? ', draft heads only (--drafts)' : ''}`,
    );
    console.log(`single photos (${queries} queries x ${subjects.length} concepts):`);
    console.log(`  precision ${f(single.precision)}  recall ${f(single.recall)}  F1 ${f(single.f1)}  weighted accuracy ${f(single.weightedAccuracy)}`);
    console.log(`  mAP ${f(mAP)}  top-1 ${f(top1 / queries)}   (tp ${single.tp} fp ${single.fp} fn ${single.fn} tn ${single.tn})`);
    console.log(`scenes (${args.scenes}, 2-4 subjects pasted on another photo):`);
    console.log(`  precision ${f(scene.precision)}  recall ${f(scene.recall)}  F1 ${f(scene.f1)}  boxes on the right subject ${f(boxHits / (boxTotal || 1))} (${boxHits}/${boxTotal})`);
    console.log(`unregistered subjects (${registered.length} of ${subjects.length} registered): ${alarms} of ${distractors.length} photos of the others named someone (${f(alarms / distractors.length)})`);
    console.log(
      `timing: register p50 ${percentile(registerMs, 50).toFixed(0)} ms (answered with a draft)${args.drafts ? '' : `, all ${subjects.length} refined ${(refineMs / 1000).toFixed(1)} s later`}, recognize p50 ${percentile(recognizeMs, 50).toFixed(0)} ms`,
    );
  } finally {
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
