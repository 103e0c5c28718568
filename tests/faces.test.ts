/** The face path on the real shared YuNet and MobileFaceNet, on real LFW and group photos. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, defaultLimits } from '../concepts/intake/intake.js';
import { DomainError } from '../concepts/errors.js';
import { writeBank } from '../concepts/learning/region-bank-file.js';
import { faceBankFile, faceBankIdentity } from '../concepts/people/face-bank.js';
import { openPeople } from '../concepts/people/open-people.js';
import { DEFAULT_FACE_MODELS, openFaceModel } from '../models/load.js';
import { exampleFace, faceScore } from '../concepts/people/faces.js';
import { applySimilarity, similarity, TEMPLATE_112, type Point } from '../models/faces/align.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { DecodedImage, FaceModel } from '../models/types.js';
import { modelsDir } from './support/subjects.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const FACES = path.resolve(repoRoot, '../shared/data/faces');
const decode = async (file: string): Promise<DecodedImage> =>
  (await decodeImage(readFileSync(path.join(FACES, file)))).image;
const person = (name: string, n: number) => decode(`people/${name}/${String(n).padStart(2, '0')}.jpg`);

describe('face model (yunet + mobilefacenet)', () => {
  let model: FaceModel;
  beforeAll(async () => {
    model = await openFaceModel(new ModelThreads(), modelsDir);
  });
  afterAll(() => model?.dispose());

  /** The face of an LFW crop: the largest one. */
  async function embedLargest(image: DecodedImage): Promise<Float32Array> {
    const faces = (await model.detect(image)).sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h);
    return (await model.embed(image, faces.slice(0, 1)))[0];
  }

  it('finds the centred face of an LFW crop, with its landmarks inside its box', async () => {
    const image = await person('tony_blair', 3);
    const [face] = (await model.detect(image)).sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h);
    expect(face.score).toBeGreaterThan(0.8);
    // Deep-funneled LFW: the face, about 100 px, in the middle of 250 x 250.
    expect(Math.abs(face.box.x + face.box.w / 2 - 125)).toBeLessThan(20);
    expect(face.box.w).toBeGreaterThan(70);
    for (const [x, y] of face.landmarks) {
      expect(x).toBeGreaterThan(face.box.x);
      expect(x).toBeLessThan(face.box.x + face.box.w);
      expect(y).toBeGreaterThan(face.box.y);
      expect(y).toBeLessThan(face.box.y + face.box.h);
    }
    // Eyes above the nose, above the mouth; the first eye on the image's left.
    const [eye1, eye2, nose, mouth1] = face.landmarks;
    expect(eye1[0]).toBeLessThan(eye2[0]);
    expect(Math.max(eye1[1], eye2[1])).toBeLessThan(nose[1]);
    expect(nose[1]).toBeLessThan(mouth1[1]);
  });

  it('aligns: the similarity transform puts the landmarks within a few pixels of the template', async () => {
    const [face] = await model.detect(await person('hu_jintao', 1));
    const t = similarity(face.landmarks, TEMPLATE_112);
    const errors = face.landmarks.map((p, i) => Math.hypot(...sub(applySimilarity(t, p), TEMPLATE_112[i])));
    expect(Math.max(...errors)).toBeLessThan(6);
  });

  it('recovers a known rotation, scale and shift exactly', () => {
    const known = { a: 0.8 * Math.cos(0.3), b: 0.8 * Math.sin(0.3), tx: 12, ty: -7 };
    const src: Point[] = [
      [10, 20],
      [50, 22],
      [30, 40],
      [15, 60],
      [45, 61],
    ];
    const fit = similarity(
      src,
      src.map((p) => applySimilarity(known, p)),
    );
    for (const k of ['a', 'b', 'tx', 'ty'] as const) expect(fit[k]).toBeCloseTo(known[k], 6);
  });

  it("puts a person's photos closer to each other than to other people's", async () => {
    const names = ['george_w_bush', 'laura_bush', 'junichiro_koizumi'];
    const v = await Promise.all(names.flatMap((n) => [1, 2].map(async (k) => embedLargest(await person(n, k)))));
    expect(Math.hypot(...v[0])).toBeCloseTo(1, 4);
    const same = [0, 1, 2].map((i) => faceScore(v[2 * i], [v[2 * i + 1]]));
    const different = [0, 1, 2].flatMap((i) =>
      [0, 1, 2].filter((j) => j !== i).map((j) => faceScore(v[2 * i], [v[2 * j]])),
    );
    expect(Math.min(...same)).toBeGreaterThan(Math.max(...different) + 0.15);
  });

  it('finds every face of a group photo: 29 people at the 1927 Solvay conference', async () => {
    const faces = await model.detect(await decode('groups/vh_solvay1927.jpg'));
    expect(faces.length).toBeGreaterThanOrEqual(27);
    expect(faces.length).toBeLessThanOrEqual(31);
  });

  it("takes a photo's only or clearly largest face, the given box's face, and refuses the rest", async () => {
    const alike = await decode('people/condoleezza_rice/05.jpg');
    const faces = await model.detect(alike);
    expect(faces.length).toBeGreaterThan(1);
    expect(() => exampleFace(faces, 2)).toThrow(/shows \d faces: give a box/);
    const boxed = exampleFace(faces, 2, { x: 75, y: 75, w: 100, h: 100 });
    expect(Math.abs(boxed.box.x + boxed.box.w / 2 - 125)).toBeLessThan(25);
    const single = await model.detect(await person('george_w_bush', 1));
    expect(exampleFace(single, 1).score).toBeGreaterThan(0.8);
    const error = (() => {
      try {
        exampleFace([], 3);
      } catch (err) {
        return err;
      }
    })();
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('unprocessable');
  });
});

describe('the face bank file', () => {
  const dirs: string[] = [];
  const temp = (name: string) => {
    dirs.push(mkdtempSync(path.join(tmpdir(), `nomen-face-bank-${name}-`)));
    return dirs[dirs.length - 1];
  };
  const banks = temp('banks');
  const photos = readdirSync(path.join(FACES, 'distractors'))
    .sort()
    .slice(0, 4)
    .map((f) => path.join(FACES, 'distractors', f));
  const open = async (bankPhotos = photos) => {
    const log: string[] = [];
    const people = await openPeople(
      {
        dataUri: temp('data'),
        modelsDir,
        limits: defaultLimits,
        bank: { dir: banks },
        faces: { on: true, bankPhotos },
      },
      new ModelThreads(),
      (m) => log.push(m),
    );
    const size = people.bankSize;
    await people.close();
    return { size, log };
  };
  const file = async (bankPhotos = photos) =>
    faceBankFile(banks, await faceBankIdentity(modelsDir, DEFAULT_FACE_MODELS, bankPhotos));
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('is built and written at the first start, then read without embedding a photo again', async () => {
    const first = await open();
    expect(first.log[0]).toBe('building the face bank from 4 photos');
    expect(first.size).toBeGreaterThanOrEqual(4);
    const written = statSync(await file()).mtimeMs;
    const next = await open();
    expect(next).toEqual({ size: first.size, log: [] });
    expect(statSync(await file()).mtimeMs).toBe(written);
  });

  it('is a file of its own for other photos', async () => {
    const fewer = photos.slice(0, 2);
    expect(await file(fewer)).not.toBe(await file());
    expect((await open(fewer)).log[0]).toBe('building the face bank from 2 photos');
    expect((await open(fewer)).log).toEqual([]);
  });

  it('refuses a corrupt file or one of other models, naming the file and how to rebuild it', async () => {
    const photo = [photos[0]];
    const bad = await file(photo);
    writeFileSync(bad, 'not a bank at all');
    const rebuild = `delete ${bad} and restart`;
    await expect(open(photo)).rejects.toThrow(`face bank ${bad} is corrupt (unreadable header): ${rebuild}`);
    const other = { ...(await faceBankIdentity(modelsDir, DEFAULT_FACE_MODELS, photo)), encoder: 'arcface' };
    const vectors = { data: new Float32Array(128).fill(0.1), rows: 1, cols: 128 };
    await writeBank(bad, { vectors, photo: new Int32Array(1), scanned: new Uint8Array(1), photos: 1 }, other);
    await expect(open(photo)).rejects.toThrow(/^face bank .* was built with encoder arcface .* and restart$/);
  });
});

const sub = (p: Point, q: readonly number[]): [number, number] => [p[0] - q[0], p[1] - q[1]];
