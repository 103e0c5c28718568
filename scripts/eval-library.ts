/**
 * The photo library in the open world: every shared photo (DreamBooth, objects, distractors) is indexed for one
 * user through the HTTP app, the subjects are registered afterwards from their first photos, and each concept's
 * `GET photos` is judged on the photos that neither registration nor the region bank saw: average precision of
 * its ranking (`all=true`) and precision/recall of the photos it calls present.
 * Then each concept's worst false positives (up to 5) are corrected through `POST .../feedback` and it is judged
 * again. Usage: npm run eval:library [-- --train 3 --fold 0 --batch 16 --corrections 5 --verbose]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as lancedb from '@lancedb/lancedb';
import { PHOTO_REGIONS_TABLE } from '../concepts/library/photo-records.js';
import type { Box } from '../concepts/types.js';
import { createApp } from '../services/api/app.js';
import { loadConfig } from '../services/config.js';
import { cpuModel, cpuSeconds } from './lib/cpu.js';
import { averagePrecision, Confusion, meanAveragePrecision, medianOf, percentile } from './lib/metrics.js';
import { distractorFolds, loadOpenWorld, sharedData } from './lib/open-world.js';
import { openScriptRuntime } from './lib/runtime.js';
import { SubjectBoxes } from './lib/subject-boxes.js';

const { values: args } = parseArgs({
  options: {
    train: { type: 'string', default: '3' },
    fold: { type: 'string', default: '0' },
    batch: { type: 'string', default: '16' },
    corrections: { type: 'string', default: '5' },
    data: { type: 'string', default: sharedData },
    verbose: { type: 'boolean', default: false },
  },
});

const KEY = 'eval-library-key-0123';
const USER = 'eval-user';

interface LibraryPhoto {
  id: string;
  score: number;
  box: Box;
}

async function main() {
  const fold = Number(args.fold) === 1 ? 1 : 0;
  const set = await loadOpenWorld(args.data!, Number(args.train), fold);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-eval-library-'));
  const runtime = await openScriptRuntime(dataDir, { bank: { dir: dataDir, photos: set.bankPhotos } });
  // Polling jobs runs past any rate limit: off.
  const env = { NOMEN_DATA: dataDir, NOMEN_API_KEYS: `${KEY}:eval`, NOMEN_BANK_DIR: dataDir, NOMEN_RATE_LIMIT: '0' };
  const app = createApp({
    service: runtime.service,
    library: runtime.library,
    config: loadConfig(env, () => ''),
    ready: async () => ({ ok: true, checks: {} }),
  });
  const call = async (method: string, url: string, json?: unknown) => {
    const headers: Record<string, string> = { Authorization: `Bearer ${KEY}` };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    const res = await app.request(url, {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const body = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  };
  const f = (x: number) => x.toFixed(3);
  try {
    // Every shared photo, with the subject it shows (null: none) and whether the evaluation may judge it.
    const [foldA, foldB] = await distractorFolds(path.join(args.data!, 'distractors'));
    const heldOut = new Set(set.heldOut);
    const photos = [
      ...set.subjects.flatMap((s) => [
        ...s.train.map((file) => ({ file, truth: s.name, judged: false })),
        ...s.query.map((file) => ({ file, truth: s.name, judged: true })),
      ]),
      ...[...foldA, ...foldB].map((file) => ({ file, truth: null as string | null, judged: heldOut.has(file) })),
    ].map((p) => ({ ...p, id: `${p.truth ?? 'distractor'}.${path.basename(p.file)}` }));

    const batch = Number(args.batch);
    const cpu = cpuSeconds();
    const t = performance.now();
    for (let i = 0; i < photos.length; i += batch) {
      const chunk = photos.slice(i, i + batch);
      const data = chunk.map((p) => ({ id: p.id, data: readFileSync(p.file).toString('base64') }));
      const { job } = await call('POST', `/v1/users/${USER}/photos`, { photos: data });
      for (;;) {
        const status = await call('GET', `/v1/users/${USER}/photo-jobs/${job}`);
        if (status.status === 'failed' || status.errors.length > 0) throw new Error(JSON.stringify(status));
        if (status.status === 'ready') break;
        await new Promise((done) => setTimeout(done, 20));
      }
    }
    const indexS = (performance.now() - t) / 1000;
    const indexCpu = cpuSeconds() - cpu;
    const db = await lancedb.connect(dataDir);
    const regions = await (await db.openTable(PHOTO_REGIONS_TABLE)).countRows();
    db.close();

    const scope = { tenant: 'eval', user: USER };
    const ids = new Map<string, string>();
    for (const s of set.subjects) {
      const images = s.train.map((file) => ({ bytes: readFileSync(file) }));
      ids.set(s.name, (await runtime.service.register(scope, { name: s.name, category: s.category, images })).id);
    }
    await runtime.service.refined();

    const judged = new Map(photos.filter((p) => p.judged).map((p) => [p.id, p.truth]));
    const trainOf = new Map(set.subjects.map((s) => [s.name, new Set(s.train)]));
    const fetchAll = async (query: string) => {
      const found: LibraryPhoto[] = [];
      let cursor = '';
      do {
        const page = await call('GET', `/v1/users/${USER}/photos?${query}&limit=1000${cursor && `&cursor=${cursor}`}`);
        found.push(...page.photos);
        cursor = page.next ?? '';
      } while (cursor);
      return found;
    };
    const truthOf = new Map(photos.map((p) => [p.id, p]));
    const subjectBoxes = SubjectBoxes.load(args.data!);
    /** Every concept's answers, judged; its false positives as `concept/photo`. */
    const measure = async (label: string) => {
      const total = new Confusion();
      const wrong = new Set<string>();
      const aps: number[] = [];
      const queryMs: number[] = [];
      const rows: string[] = [];
      const falsePositives = new Map<string, LibraryPhoto[]>();
      const ious: number[] = [];
      for (const s of set.subjects) {
        const id = ids.get(s.name)!;
        const ranked = (await fetchAll(`concept=${id}&all=true`)).filter((p) => judged.has(p.id));
        const ap = averagePrecision(ranked.map((p) => ({ score: p.score, positive: judged.get(p.id) === s.name })));
        const q = performance.now();
        const present = await fetchAll(`concept=${id}`);
        queryMs.push(performance.now() - q);
        const presentIds = new Set(present.map((p) => p.id));
        for (const p of present) {
          const truth = truthOf.get(p.id)!;
          const overlap = truth.truth === s.name ? subjectBoxes.iouIn(truth.file, p.box) : undefined;
          if (overlap !== undefined) ious.push(overlap);
        }
        // Worst first: what a user would correct, among the library's photos that were not the registration's.
        falsePositives.set(
          s.name,
          present.filter(
            (p) => truthOf.get(p.id)!.truth !== s.name && !trainOf.get(s.name)!.has(truthOf.get(p.id)!.file),
          ),
        );
        const c = new Confusion();
        for (const [photo, truth] of judged) {
          c.add(presentIds.has(photo), truth === s.name);
          if (presentIds.has(photo) && truth !== s.name) wrong.add(`${s.name}/${photo}`);
        }
        total.tp += c.tp;
        total.fp += c.fp;
        total.fn += c.fn;
        total.tn += c.tn;
        aps.push(ap);
        rows.push(
          `  ${s.name.padEnd(36)} AP ${f(ap)}  precision ${f(c.precision)}  recall ${f(c.recall)}  (tp ${c.tp} fp ` +
            `${c.fp} fn ${c.fn})`,
        );
      }
      if (args.verbose) for (const r of rows) console.log(r);
      console.log(
        `${label}: mAP ${f(meanAveragePrecision(aps))}  precision ${f(total.precision)}  recall ` +
          `${f(total.recall)}  F1 ${f(total.f1)}  (tp ${total.tp} fp ${total.fp} fn ${total.fn})`,
      );
      console.log(`  query p50 ${percentile(queryMs, 50).toFixed(1)} ms, p99 ${percentile(queryMs, 99).toFixed(1)} ms`);
      console.log(
        `  median IoU of a listed photo's box with its subject's hand-drawn one ${f(medianOf(ious))} ` +
          `(${ious.length})`,
      );
      return { falsePositives, wrong };
    };

    const judgedCount = judged.size;
    const withSubject = [...judged.values()].filter((v) => v !== null).length;
    console.log(
      `\nnomen eval:library: ${photos.length} photos indexed for one user, ${set.subjects.length} subjects ` +
        `registered afterwards from ${args.train} photos each`,
    );
    console.log(
      `CPU: ${cpuModel()}, ${os.availableParallelism()} cores; distractor fold ${fold} in the bank, judged: ` +
        `${judgedCount} photos (${withSubject} with a subject, ${judgedCount - withSubject} without)`,
    );
    console.log(
      `indexing: ${f(photos.length / indexS)} photos/s (${indexS.toFixed(1)} s wall, ` +
        `${((indexCpu / photos.length) * 1000).toFixed(0)} ms CPU per photo, batches of ${batch}), ` +
        `${(regions / photos.length).toFixed(1)} regions kept per photo`,
    );
    const before = await measure('GET photos?concept=');

    // Corrections: each concept's worst false positives in the library, up to `--corrections` of them.
    const corrected = new Set<string>();
    const c0 = performance.now();
    for (const s of set.subjects) {
      for (const p of before.falsePositives.get(s.name)!.slice(0, Number(args.corrections))) {
        await call('POST', `/v1/users/${USER}/concepts/${ids.get(s.name)}/feedback`, { photo: p.id, correct: false });
        corrected.add(`${s.name}/${p.id}`);
      }
    }
    const perCorrection = (performance.now() - c0) / (corrected.size || 1);
    console.log(
      `corrections: ${corrected.size} (up to ${args.corrections} per concept, its worst false positives), ` +
        `${perCorrection.toFixed(0)} ms each (retrains every head of the user)`,
    );
    // The first query after the retrainings answers from the scores of before and starts the reading of the new.
    await fetchAll(`concept=${ids.get(set.subjects[0].name)}`);
    await runtime.library.settled(scope);
    const after = await measure('after corrections');
    // Corrected photos leave the answers by the user's word; the others show what the retrained heads learned.
    const uncorrected = (wrong: Set<string>) => [...wrong].filter((w) => !corrected.has(w)).length;
    console.log(
      `  false positives on the judged photos that were not corrected: ${uncorrected(before.wrong)} -> ` +
        `${uncorrected(after.wrong)}`,
    );
  } finally {
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
