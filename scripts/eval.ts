/**
 * Recognition accuracy in the open world: one user registers every subject of the shared DreamBooth and objects
 * folders from its first photos; every other photo of them, and the held-out fold of the shared distractors
 * (photos in which no subject appears), are queried against all concepts; then scenes of 2-4 subjects pasted
 * onto held-out distractors. Boxes are measured against the subject's hand-drawn box in its photo (`--boxes`, the
 * shared data's scripts/lib/subject-boxes.json by default), and in scenes also against the whole pasted photo. The
 * region bank is built from the other fold and the faces folder (`--fold` swaps the folds). The closed-world block
 * repeats the DreamBooth-only figures of earlier versions. `--half` registers every other subject only: the
 * others' photos (look-alike siblings among them) are photos without one.
 * `--data` reads another folder laid out as ../shared/data: subject sets (a classes.csv of `name,category` and a
 * folder of photos per subject), `distractors/` (photos without any subject) and, optionally, `faces/`.
 * Usage: npm run eval [-- --train 3 --scenes 60 --seed 1 --fold 0 --data DIR --boxes FILE --drafts --half --verbose]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp, { type OverlayOptions } from 'sharp';
import type { Box, Match } from '../concepts/types.js';
import { seeded } from '../concepts/random.js';
import { intersection } from '../models/image/boxes.js';
import { boxAt } from '../concepts/recognition/places.js';
import { cpuModel } from './lib/cpu.js';
import { averagePrecision, Confusion, meanAveragePrecision, medianOf, percentile } from './lib/metrics.js';
import { loadOpenWorld, sharedData } from './lib/open-world.js';
import { boxIou, SubjectBoxes } from './lib/subject-boxes.js';
import { openScriptRuntime, scriptModels } from './lib/runtime.js';

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '3' },
    scenes: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    fold: { type: 'string', default: '0' },
    data: { type: 'string', default: sharedData },
    // Subject boxes of the query photos (scripts/lib/subject-boxes.ts); the shared data's own by default.
    boxes: { type: 'string' },
    // The heads that registration answers with, before their background refinement: every concept kept a draft.
    drafts: { type: 'boolean', default: false },
    half: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const GROCERY = new Set(['milk', 'juice', 'yoghurt']);

interface Scene {
  jpeg: Buffer;
  /** Where each subject's photo lies in the scene, and the subject's own box there where the photo has one. */
  pasted: { subject: string; rect: Box; box?: Box }[];
}

/**
 * Pastes 2-4 subjects' photos at random places and sizes onto a photo in which none of them appears, without overlaps.
 */
async function makeScene(
  background: string,
  subjects: { name: string; query: string[] }[],
  subjectBoxes: SubjectBoxes,
  rnd: () => number,
): Promise<Scene> {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const others = subjects
    .filter((s) => s.query.length > 0)
    .sort(() => rnd() - 0.5)
    .slice(0, 2 + Math.floor(rnd() * 3));
  const base = await sharp(background).resize(768, 768, { fit: 'inside' }).toBuffer({ resolveWithObject: true });
  const { width: bw, height: H } = base.info;
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
      if (placed.some((p) => left < p.left + p.w && p.left < left + w && top < p.top + p.h && p.top < top + h))
        continue;
      placed.push({ left, top, w, h });
      layers.push({ input: await sharp(file).resize(w, h).toBuffer(), left, top });
      const rect: Box = [left / bw, top / H, w / bw, h / H];
      pasted.push({ subject: s.name, rect, box: subjectBoxes.inside(file, rect) });
      break;
    }
  }
  return { jpeg: await sharp(base.data).composite(layers).jpeg({ quality: 90 }).toBuffer(), pasted };
}

/** A box hits a pasted photo when most of it lies on that photo. */
const hits = (box: Box, rect: Box) => intersection(boxAt(box, 0), boxAt(rect, 0)) / (box[2] * box[3]) >= 0.6;

/** One query photo's answer for every concept: its subject's name, or null for a photo without any. */
interface Answer {
  file: string;
  truth: string | null;
  matches: Match[];
}

function decisions(answers: Answer[], concepts: Set<string>, nameOf: (m: Match) => string) {
  const single = new Confusion();
  const ranking = new Map<string, { score: number; positive: boolean }[]>();
  const falseAlarms = new Map<string, { fp: number; negatives: number }>();
  let top1 = 0;
  let withSubject = 0;
  for (const a of answers) {
    const ms = a.matches.filter((m) => concepts.has(nameOf(m)));
    if (a.truth !== null && ms.length > 0) {
      withSubject++;
      if (nameOf(ms[0]) === a.truth) top1++;
    }
    for (const m of ms) {
      const name = nameOf(m);
      const positive = name === a.truth;
      single.add(m.present, positive);
      ranking.set(name, [...(ranking.get(name) ?? []), { score: m.score, positive }]);
      if (!positive) {
        const fa = falseAlarms.get(name) ?? { fp: 0, negatives: 0 };
        fa.negatives++;
        if (m.present) fa.fp++;
        falseAlarms.set(name, fa);
      }
    }
  }
  const ap = new Map([...ranking].map(([name, items]) => [name, averagePrecision(items)]));
  return { single, ap, falseAlarms, top1: top1 / (withSubject || 1) };
}

async function main() {
  const fold = Number(args.fold) === 1 ? 1 : 0;
  const set = await loadOpenWorld(args.data!, Number(args.train), fold);
  const subjects = args.half ? set.subjects.filter((_, i) => i % 2 === 0) : set.subjects;
  const unregistered = set.subjects.filter((s) => !subjects.includes(s));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-eval-'));
  const runtime = await openScriptRuntime(dataDir, {
    refine: !args.drafts,
    bank: { dir: dataDir, photos: set.bankPhotos },
  });
  const scope = { tenant: 'eval', user: 'eval-user' };
  const f = (x: number) => x.toFixed(3);
  const median = (xs: number[]) => f(medianOf(xs));
  try {
    const ids = new Map<string, string>();
    const registerMs: number[] = [];
    for (const s of subjects) {
      const t = performance.now();
      const c = await runtime.service.register(scope, {
        name: s.name,
        category: s.category,
        images: s.train.map((file) => ({ bytes: readFileSync(file) })),
      });
      registerMs.push(performance.now() - t);
      ids.set(c.id, s.name);
    }
    // Registration answers with a draft head; what is measured here are the refined ones.
    const t = performance.now();
    await runtime.service.refined();
    const refineMs = performance.now() - t;
    const nameOf = (m: Match) => ids.get(m.id)!;
    const concepts = await runtime.service.list(scope);
    if (args.verbose) for (const c of concepts) console.log(`  ${c.name}: threshold ${c.threshold}`);

    const subjectBoxes = SubjectBoxes.load(args.data!, args.boxes);
    const singleIous: number[] = [];
    const answers: Answer[] = [];
    const recognizeMs: number[] = [];
    const queries = [
      ...subjects.flatMap((s) => s.query.map((file) => ({ file, truth: s.name as string | null }))),
      ...unregistered.flatMap((s) => [...s.train, ...s.query].map((file) => ({ file, truth: null }))),
      ...set.heldOut.map((file) => ({ file, truth: null })),
    ];
    for (const q of queries) {
      const t = performance.now();
      const { concepts: matches } = await runtime.service.recognize(scope, readFileSync(q.file), true);
      recognizeMs.push(performance.now() - t);
      answers.push({ ...q, matches });
      const found = matches.find((m) => m.present && nameOf(m) === q.truth);
      const overlap = found && subjectBoxes.iouIn(q.file, found.box);
      if (overlap !== undefined) singleIous.push(overlap);
      if (args.verbose)
        for (const m of matches)
          if (m.present !== (nameOf(m) === q.truth))
            console.log(
              `  ${m.present ? 'false positive' : 'missed'}: ${path.relative(args.data!, q.file)} -> ${nameOf(m)} ` +
                `${m.score}`,
            );
    }
    const all = new Set(subjects.map((s) => s.name));
    const open = decisions(answers, all, nameOf);
    const empty = answers.filter((a) => a.truth === null);
    const named = empty.filter((a) => a.matches.some((m) => m.present));
    const grocery = subjects.filter((s) => GROCERY.has(s.category)).map((s) => s.name);

    const rnd = seeded(Number(args.seed));
    const scene = new Confusion();
    const ious: number[] = [];
    const subjectIous: number[] = [];
    let boxHits = 0;
    for (let i = 0; i < Number(args.scenes); i++) {
      const background = set.heldOut[Math.floor(rnd() * set.heldOut.length)];
      const sc = await makeScene(background, subjects, subjectBoxes, rnd);
      const { concepts: matches } = await runtime.service.recognize(scope, sc.jpeg, true);
      for (const m of matches) {
        const pasted = sc.pasted.find((p) => p.subject === nameOf(m));
        scene.add(m.present, pasted !== undefined);
        if (args.verbose && m.present !== (pasted !== undefined))
          console.log(`  scene ${i}: ${m.present ? 'false positive' : 'missed'} ${nameOf(m)} ${m.score}`);
        if (pasted && m.present) {
          ious.push(boxIou(m.box, pasted.rect));
          if (pasted.box) subjectIous.push(boxIou(m.box, pasted.box));
          if (hits(m.box, pasted.rect)) boxHits++;
        }
      }
    }

    const dreambooth = new Set(subjects.filter((s) => s.set === 'dreambooth').map((s) => s.name));

    const { encoder } = scriptModels();
    const sets = [...new Set(subjects.map((s) => s.set))].join(' + ');
    console.log(
      `\nnomen eval: ${subjects.length} subjects (${sets}), ${args.train} photos each, encoder ` +
        `${encoder}${args.drafts ? ', draft heads only' : ''}` +
        (args.half ? `; ${unregistered.length} more unregistered, their photos queried as photos without one` : ''),
    );
    console.log(
      `CPU: ${cpuModel()}; distractor fold ${fold} in the bank, fold ${1 - fold} queried (${set.heldOut.length} ` +
        `photos)`,
    );
    console.log(
      `open world, single photos (${answers.length} queries x ${subjects.length} concepts, ${empty.length} without ` +
        `any subject):`,
    );
    const s = open.single;
    console.log(
      `  precision ${f(s.precision)}  recall ${f(s.recall)}  F1 ${f(s.f1)}  (tp ${s.tp} fp ${s.fp} fn ${s.fn} tn ` +
        `${s.tn})`,
    );
    console.log(
      `  photos without a registered subject that name anyone: ${named.length}/${empty.length} ` +
        `(${f(named.length / empty.length)})`,
    );
    const rates = [...open.falseAlarms]
      .map(([name, { fp, negatives }]) => ({ name, rate: fp / negatives }))
      .sort((a, b) => b.rate - a.rate);
    console.log(
      `  concepts firing on more than 5% of the photos without them: ${rates.filter((r) => r.rate > 0.05).length}; ` +
        `worst five: ${rates
          .slice(0, 5)
          .map((r) => `${r.name} ${f(r.rate)}`)
          .join(', ')}`,
    );
    const groceryAp = grocery.length > 0 ? f(meanAveragePrecision(grocery.map((g) => open.ap.get(g)!))) : 'none';
    console.log(
      `  mAP ${f(meanAveragePrecision([...open.ap.values()]))}  grocery siblings mAP ${groceryAp}  top-1 ` +
        `${f(open.top1)}`,
    );
    console.log(
      `  median IoU of a found subject's box with its hand-drawn one ${median(singleIous)} (${singleIous.length})`,
    );
    console.log(`scenes (${args.scenes}, 2-4 subjects pasted on held-out distractors):`);
    console.log(`  precision ${f(scene.precision)}  recall ${f(scene.recall)}  F1 ${f(scene.f1)}`);
    console.log(
      `  boxes on the right subject ${f(boxHits / (ious.length || 1))} (${boxHits}/${ious.length}), median IoU with ` +
        `the subject's box ${median(subjectIous)} (${subjectIous.length} boxed), with its whole photo ${median(ious)}`,
    );
    if (dreambooth.size > 0) {
      const closed = decisions(
        answers.filter((a) => a.truth !== null && dreambooth.has(a.truth)),
        dreambooth,
        nameOf,
      );
      const c = closed.single;
      console.log(`closed world (dreambooth subjects and photos only, as before):`);
      console.log(
        `  precision ${f(c.precision)}  recall ${f(c.recall)}  F1 ${f(c.f1)}  weighted accuracy ` +
          `${f(c.weightedAccuracy)}  mAP ${f(meanAveragePrecision([...closed.ap.values()]))}  top-1 ` +
          `${f(closed.top1)}`,
      );
    }
    console.log(
      `timing: register p50 ${percentile(registerMs, 50).toFixed(0)} ms (answered with a ` +
        `draft)${args.drafts ? '' : `, all refined ${(refineMs / 1000).toFixed(1)} s later`}, recognize p50 ` +
        `${percentile(recognizeMs, 50).toFixed(0)} ms`,
    );
  } finally {
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
