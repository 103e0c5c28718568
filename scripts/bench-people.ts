/**
 * How long a photo of 5 faces takes to recognise: one user with 5 people registered (3 LFW photos each), a photo of
 * 5 of their other photos side by side (1250 x 250), recognised through the service (decode, detection, alignment
 * and embedding of every face, naming) after warm-up; and a real group snapshot of 6 faces. Then a person's photos
 * in a library of the shared group photos and face distractors, and the start of a runtime with faces on (the
 * default face bank): the first in a bank folder without a face bank file, then the next.
 *
 *   npm run bench:people [-- --runs 20]
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { bankFile, bankIdentity } from '../concepts/learning/region-bank-file.js';
import { bankFromEnv, facesFromEnv } from '../services/config.js';
import { cpuModel } from './lib/cpu.js';
import { percentile } from './lib/metrics.js';
import { sharedData } from './lib/open-world.js';
import { openScriptRuntime, scriptModels } from './lib/runtime.js';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const FACES = path.join(sharedData, 'faces');
const people = readdirSync(path.join(FACES, 'people')).sort().slice(0, 5);
const photo = (person: string, n: number) =>
  readFileSync(path.join(FACES, 'people', person, `${String(n).padStart(2, '0')}.jpg`));

const dir = mkdtempSync(path.join(os.tmpdir(), 'nomen-bench-people-'));
const runtime = await openScriptRuntime(dir, { faces: { on: true, bankPhotos: [path.join(FACES, 'distractors')] } });
const scope = { tenant: 'bench', user: 'u' };
for (const name of people) {
  const images = [1, 2, 3].map((n) => ({
    bytes: photo(name, n),
    box: [0.3, 0.3, 0.4, 0.4] as [number, number, number, number],
  }));
  await runtime.service.register(scope, { name, category: 'person', images });
}
const five = await sharp({ create: { width: 1250, height: 250, channels: 3, background: '#777' } })
  .composite(people.map((p, i) => ({ input: photo(p, 7), left: i * 250, top: 0 })))
  .jpeg({ quality: 90 })
  .toBuffer();
const group = readFileSync(path.join(FACES, 'groups', 'dlib_voc_2008_002470.jpg'));

const runs = (n: number) => Array.from({ length: 3 + n }, (_, i) => i);
const summary = (times: number[]) =>
  `median ${percentile(times, 50).toFixed(1)} ms, p90 ${percentile(times, 90).toFixed(1)} ms ` +
  `(${times.length} runs after 3 warm-up)`;

console.log(`CPU: ${cpuModel()}, NOMEN_THREADS=${process.env.NOMEN_THREADS ?? 'all cores'}`);
for (const [label, bytes] of [
  ['5 registered people side by side (1250x250)', five],
  ['group snapshot, 6 strangers (500x332)', group],
] as const) {
  const times: number[] = [];
  let named = 0;
  for (const i of runs(Number(args.runs))) {
    const { concepts, timings } = await runtime.service.recognize(scope, bytes, false);
    if (i >= 3) times.push(timings.total);
    named = concepts.length;
  }
  console.log(`${label}: ${named} named; recognised in ${summary(times)}`);
}

const library = ['groups', 'distractors'].flatMap((folder) =>
  readdirSync(path.join(FACES, folder)).map((f) => ({
    id: `${folder}-${f}`.replace(/[^\w.@-]/g, '_'),
    bytes: readFileSync(path.join(FACES, folder, f)),
  })),
);
const { job } = await runtime.library.add(scope, library);
while (!['ready', 'failed'].includes((await runtime.library.job(scope, job)).status))
  await new Promise((done) => setTimeout(done, 50));
const finds: number[] = [];
for (const i of runs(Number(args.runs))) {
  const started = performance.now();
  await runtime.library.find(scope, [people[0]], { limit: 20, all: true });
  if (i >= 3) finds.push(performance.now() - started);
}
console.log(`a person's photos in a library of ${library.length} photos: ${summary(finds)}`);
await runtime.close();
rmSync(dir, { recursive: true, force: true });

// A bank folder of its own holding the region bank already, so that only the face bank is built at the first start.
const { modelsDir, encoder, detector } = scriptModels();
const regions = bankFromEnv(process.env, modelsDir);
const identity = await bankIdentity(modelsDir, encoder, detector);
const banks = mkdtempSync(path.join(os.tmpdir(), 'nomen-bench-banks-'));
if (existsSync(bankFile(regions.dir, identity)))
  copyFileSync(bankFile(regions.dir, identity), bankFile(banks, identity));
for (const start of ['first start (no face bank file)', 'next start']) {
  const data = mkdtempSync(path.join(os.tmpdir(), 'nomen-bench-start-'));
  const started = performance.now();
  const opened = await openScriptRuntime(data, {
    bank: { ...regions, dir: banks },
    faces: facesFromEnv({ NOMEN_FACES: 'on' }, modelsDir),
  });
  const ms = performance.now() - started;
  console.log(`${start}, faces on, ${opened.people.bankSize} bank faces: runtime open in ${ms.toFixed(0)} ms`);
  await opened.close();
  rmSync(data, { recursive: true, force: true });
}
rmSync(banks, { recursive: true, force: true });
