/**
 * People as concepts, measured at the service's decisions: the shared LFW people, face distractors and group
 * photos are split in two halves (people, distractors and group photos alternate, sorted by name). The face bank is
 * built from one half only; the other half is registered and queried, so no figure comes from faces that the
 * calibration has seen. `--tune` prints, from the bank's half alone, the figures FACE_FLOOR and FACE_MARGIN
 * (concepts/people/faces.ts) were chosen from.
 * Usage: npm run eval:people [-- --fold 0 --train 3 --data DIR --tune --verbose]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeImage, toPixelBox } from '../concepts/intake/intake.js';
import { faceScore } from '../concepts/people/faces.js';
import type { Box, Match } from '../concepts/types.js';
import { openFaceModel } from '../models/load.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { FaceModel } from '../models/types.js';
import { cpuModel } from './lib/cpu.js';
import { Confusion, mean, percentile } from './lib/metrics.js';
import { sharedData } from './lib/open-world.js';
import { openScriptRuntime } from './lib/runtime.js';
import { defaultModelsDir } from './lib/dreambooth.js';
import { isPhotoFile } from '../concepts/learning/region-bank-file.js';

const { values: args } = parseArgs({
  options: {
    fold: { type: 'string', default: '0' },
    // A folder laid out as ../shared/data/faces: people/<name>/*.jpg, distractors/, groups/.
    data: { type: 'string', default: path.join(sharedData, 'faces') },
    train: { type: 'string', default: '3' },
    tune: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const FACES = path.resolve(args.data);
const fold = Number(args.fold) as 0 | 1;
const train = Number(args.train);
const files = (dir: string) =>
  readdirSync(dir)
    .filter(isPhotoFile)
    .sort()
    .map((f) => path.join(dir, f));
/** Items alternate between halves: half `fold` calibrates (the bank), the other is measured. */
const halves = <T>(items: T[]): [T[], T[]] => [
  items.filter((_, i) => i % 2 === fold),
  items.filter((_, i) => i % 2 !== fold),
];

const people = readdirSync(path.join(FACES, 'people')).sort();
const [bankPeople, testPeople] = halves(people);
const [bankDistractors, testDistractors] = halves(files(path.join(FACES, 'distractors')));
const [bankGroups, testGroups] = halves(files(path.join(FACES, 'groups')));
const photosOf = (person: string) => files(path.join(FACES, 'people', person));

/** Where a user taps when asked which face: the middle (a deep-funneled LFW crop holds its person's face there). */
const CENTRE: Box = [0.3, 0.3, 0.4, 0.4];
const WHOLE: Box = [0, 0, 1, 1];
const centreOf = (b: Box) => [b[0] + b[2] / 2, b[1] + b[3] / 2];
const inside = ([x, y]: number[], r: Box) => x >= r[0] && x <= r[0] + r[2] && y >= r[1] && y <= r[1] + r[3];

if (args.tune) await tune();
else await evaluate();

/** Raw face scores on the bank's half: what the floor and margin are chosen from. */
async function tune(): Promise<void> {
  const model = await openFaceModel(new ModelThreads(), defaultModelsDir);
  const largest = async (file: string) => (await facesOf(model, file, true))[0];
  const strangers: Float32Array[] = [];
  for (const f of [...bankDistractors, ...bankGroups]) strangers.push(...(await facesOf(model, f, false)));
  const vectors = new Map<string, Float32Array[]>();
  for (const p of bankPeople) vectors.set(p, await Promise.all(photosOf(p).map(largest)));
  const others: number[] = [];
  const margins: number[] = [];
  for (const p of bankPeople) {
    const examples = vectors.get(p)!.slice(0, train);
    const rest = bankPeople.filter((q) => q !== p).flatMap((q) => vectors.get(q)!);
    const scores = rest.map((v) => faceScore(v, examples));
    others.push(...scores, ...strangers.map((v) => faceScore(v, examples)));
    // What unseen strangers (the other people) reach beyond the best of the bank's strangers.
    margins.push(Math.max(...scores) - Math.max(...strangers.map((v) => faceScore(v, examples))));
  }
  console.log(`split ${fold} (the bank's half): ${bankPeople.join(', ')}; ${strangers.length} stranger faces`);
  console.log(
    `other people's scores (${others.length}): p99 ${percentile(others, 99).toFixed(3)}, p99.9 ` +
      `${percentile(others, 99.9).toFixed(3)}, max ${Math.max(...others).toFixed(3)}`,
  );
  console.log(
    `unseen strangers over the bank's best, per person: median ${percentile(margins, 50).toFixed(3)}, p90 ` +
      `${percentile(margins, 90).toFixed(3)}, max ${Math.max(...margins).toFixed(3)}`,
  );
  await model.dispose();
}

/** Faces of a photo, the largest first when `largestOnly`. */
async function facesOf(model: FaceModel, file: string, largestOnly: boolean): Promise<Float32Array[]> {
  const { image } = await decodeImage(readFileSync(file));
  const faces = (await model.detect(image)).sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h);
  return model.embed(image, largestOnly ? faces.slice(0, 1) : faces);
}

interface Query {
  file: string;
  jpeg: Uint8Array;
  /** Who is where: registered people of this round and the part of the photo that holds their face. */
  truth: { person: string; rect: Box }[];
  kind: 'single' | 'stranger' | 'group';
}

/**
 * Several photos side by side in one photo (3 x 2 tiles of 160 px, an LFW face about 64 px across): a group photo
 * whose people are known.
 */
async function collage(tiles: { file: string; person?: string }[]): Promise<Query> {
  const [w, h] = [160, 160];
  const cols = 3;
  const rows = Math.ceil(tiles.length / cols);
  const jpeg = await sharp({ create: { width: w * cols, height: h * rows, channels: 3, background: '#777' } })
    .composite(
      await Promise.all(
        tiles.map(async (t, i) => ({
          input: await sharp(t.file).rotate().resize(w, h, { fit: 'contain', background: '#777' }).toBuffer(),
          left: (i % cols) * w,
          top: Math.floor(i / cols) * h,
        })),
      ),
    )
    .jpeg({ quality: 90 })
    .toBuffer();
  const truth = tiles.flatMap((t, i) =>
    t.person
      ? [{ person: t.person, rect: [(i % cols) / cols, Math.floor(i / cols) / rows, 1 / cols, 1 / rows] as Box }]
      : [],
  );
  return { file: `collage of ${tiles.map((t) => path.basename(t.file)).join(' ')}`, jpeg, truth, kind: 'group' };
}

async function evaluate(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nomen-eval-people-'));
  const bankPhotos = [...bankPeople.flatMap(photosOf), ...bankDistractors, ...bankGroups];
  const runtime = await openScriptRuntime(dir, { faces: { on: true, bankPhotos } });
  const model = runtime.people.model!;
  console.log(`CPU: ${cpuModel()}`);
  console.log(
    `held out: split ${1 - fold} (${testPeople.join(', ')}; ${testDistractors.length} distractors, ` +
      `${testGroups.length} group photos); the face bank: split ${fold}, ${runtime.people.bankSize} faces of ` +
      `${bankPhotos.length} photos`,
  );
  // Two rounds: each registers half of the held-out people; the other half are strangers to it.
  const rounds = [testPeople.filter((_, i) => i % 2 === 0), testPeople.filter((_, i) => i % 2 === 1)];
  const single = new Confusion();
  const group = new Confusion();
  let strangerPhotos = 0;
  let strangerNamed = 0;
  let groupFalse = 0;
  let boxed = 0;
  let refused = 0;

  /**
   * A person's example photos as a user gives them: as they are; where the service asks which face, the middle of
   * the photo is tapped; a photo it still refuses is left out.
   */
  async function exampleImages(person: string): Promise<{ bytes: Uint8Array; box?: Box }[]> {
    const images: { bytes: Uint8Array; box?: Box }[] = [];
    for (const file of photosOf(person).slice(0, train)) {
      const bytes = readFileSync(file);
      const { image } = await decodeImage(bytes);
      const accepted = (box?: Box) =>
        runtime.people.photoFaces([{ image, box: box && toPixelBox(box, image) }], false).then(
          () => true,
          () => false,
        );
      if (await accepted()) images.push({ bytes });
      else if (await accepted(CENTRE)) {
        boxed++;
        images.push({ bytes, box: CENTRE });
      } else refused++;
    }
    return images;
  }
  const worst = new Map<string, { threshold: number; lowestOwn: number; highestOther: number; missed: number }>();
  const [detectMs, embedMs]: number[][] = [[], []];
  for (const [r, registered] of rounds.entries()) {
    const scope = { tenant: 'eval', user: `round${r}` };
    const ids = new Map<string, string>();
    for (const person of registered) {
      const images = await exampleImages(person);
      if (images.length === 0) {
        // Nothing to learn from: every other photo of the person is a miss.
        single.fn += photosOf(person).length - train;
        continue;
      }
      const concept = await runtime.service.register(scope, { name: person, category: 'person', images });
      ids.set(concept.id, person);
      worst.set(person, { threshold: concept.threshold, lowestOwn: 1, highestOther: 0, missed: 0 });
    }
    const queries: Query[] = [];
    const strangers = testPeople.filter((p) => !registered.includes(p));
    for (const p of registered)
      for (const f of photosOf(p).slice(train))
        queries.push({ file: f, jpeg: readFileSync(f), truth: [{ person: p, rect: WHOLE }], kind: 'single' });
    for (const f of [...testDistractors, ...strangers.flatMap(photosOf)])
      queries.push({ file: f, jpeg: readFileSync(f), truth: [], kind: 'stranger' });
    for (const f of testGroups) queries.push({ file: f, jpeg: readFileSync(f), truth: [], kind: 'group' });
    // Group photos of known people: 2-3 registered people's unseen photos among strangers.
    for (let i = 0; i < 4; i++) {
      const known = registered.filter((_, k) => (k + i) % 3 !== 0).slice(0, 3);
      const tiles = [
        ...known.map((p, k) => {
          const unseen = photosOf(p).slice(train);
          return { file: unseen[(i + k) % unseen.length], person: p };
        }),
        ...[...testDistractors, ...strangers.flatMap(photosOf)]
          .slice(i * 3, i * 3 + 6 - known.length)
          .map((file) => ({ file })),
      ];
      queries.push(await collage(tiles.sort((a, b) => a.file.localeCompare(b.file))));
    }
    for (const q of queries) {
      const { concepts, timings } = await runtime.service.recognize(scope, q.jpeg, true);
      const { image } = await decodeImage(q.jpeg);
      let t = performance.now();
      const faces = await model.detect(image);
      detectMs.push(performance.now() - t);
      t = performance.now();
      await model.embed(image, faces);
      if (faces.length > 0) embedMs.push((performance.now() - t) / faces.length);
      if (args.verbose) console.log(path.basename(q.file), JSON.stringify(timings));
      score(q, concepts, ids);
    }
  }

  /** Every (photo, registered person) pair is one decision; a name on the wrong face is a false name. */
  function score(q: Query, matches: Match[], ids: Map<string, string>): void {
    const named = matches.filter((m) => m.present);
    const falseNames = named.filter(
      (m) => !q.truth.some((t) => t.person === ids.get(m.id) && inside(centreOf(m.box), t.rect)),
    );
    const confusion = q.kind === 'group' ? group : single;
    for (const m of matches) {
      const person = ids.get(m.id)!;
      const truth = q.truth.find((t) => t.person === person);
      const right = m.present && truth !== undefined && inside(centreOf(m.box), truth.rect);
      // A name on another face is a false name and a miss.
      if (right) confusion.tp++;
      else {
        if (m.present) confusion.fp++;
        if (truth) confusion.fn++;
      }
      const w = worst.get(person)!;
      if (truth) {
        w.lowestOwn = Math.min(w.lowestOwn, m.score);
        if (!right) w.missed++;
      } else w.highestOther = Math.max(w.highestOther, m.score);
    }
    if (q.kind === 'stranger') {
      strangerPhotos++;
      if (named.length > 0) strangerNamed++;
    }
    if (q.kind === 'group') groupFalse += falseNames.length;
    if (args.verbose && falseNames.length > 0)
      console.log(
        `false name in ${path.basename(q.file)}: ${falseNames.map((m) => `${m.name} ${m.score}`).join(', ')}`,
      );
  }

  const f3 = (v: number) => v.toFixed(3);
  console.log(
    `single photos: F1 ${f3(single.f1)} (precision ${f3(single.precision)}, recall ${f3(single.recall)}; ` +
      `tp ${single.tp} fp ${single.fp} fn ${single.fn})`,
  );
  console.log(
    `other people's photos that name anyone: ${strangerNamed}/${strangerPhotos} ` +
      `(${((100 * strangerNamed) / (strangerPhotos || 1)).toFixed(1)}%)`,
  );
  console.log(
    `group photos: precision ${f3(group.precision)}, recall ${f3(group.recall)} (tp ${group.tp} fp ${group.fp} ` +
      `fn ${group.fn}); false names ${groupFalse}`,
  );
  console.log(
    `example photos that needed a box (several faces alike): ${boxed}; refused even so (no face there): ${refused}`,
  );
  console.log('per person: threshold, lowest score on an own photo, highest on anyone else, own photos missed');
  for (const [p, w] of worst)
    console.log(`  ${p.padEnd(24)} ${f3(w.threshold)}  ${f3(w.lowestOwn)}  ${f3(w.highestOther)}  ${w.missed}`);
  console.log(
    `time: detection ${mean(detectMs).toFixed(1)} ms per photo (p90 ${percentile(detectMs, 90).toFixed(1)}), ` +
      `alignment and embedding ${mean(embedMs).toFixed(1)} ms per face (p90 ${percentile(embedMs, 90).toFixed(1)})`,
  );
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });
}
