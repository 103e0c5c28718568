/** The decisions of person concepts on face vectors and boxes (no model): naming, thresholds, example faces, opt-in. */
import { describe, expect, it } from 'vitest';
import {
  calibratePerson,
  exampleFace,
  FACE_FLOOR,
  FACE_MARGIN,
  faceScore,
  isPersonCategory,
  nameFaces,
} from '../concepts/people/faces.js';
import { People } from '../concepts/people/people.js';
import type { FaceStore } from '../concepts/storage/face-store.js';
import type { Face, FaceModel } from '../models/types.js';
import { facesFromEnv } from '../services/config.js';

const unit = (...v: number[]) => Float32Array.from(v.map((x) => x / Math.hypot(...v)));
const [a, b, c] = [unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)];
const face = (x: number, y: number, w: number): Face => ({ box: { x, y, w, h: w }, score: 0.9, landmarks: [] });

describe('naming the faces of a photo', () => {
  it('names each person at most once and each face at most once, best margin first', () => {
    const faces = [unit(1, 0.1, 0), unit(1, 0.3, 0), unit(0, 0, 1)];
    const named = nameFaces(faces, [
      { id: 'A', threshold: 0.5, examples: [a] },
      { id: 'A2', threshold: 0.5, examples: [unit(1, 0.12, 0)] },
      { id: 'B', threshold: 0.5, examples: [b] },
    ]);
    // Face 0 is A2's (the higher margin); A takes the next face, which still reaches its threshold.
    expect(named.map((n) => [n.face, n.present])).toEqual([
      [1, true],
      [0, true],
      [expect.any(Number), false],
    ]);
    expect(nameFaces([c], [{ id: 'B', threshold: 0.5, examples: [b] }])[0].present).toBe(false);
  });

  it('leaves a person unnamed when the one face it reaches is named better by another', () => {
    const named = nameFaces(
      [unit(1, 0.2, 0)],
      [
        { id: 'A', threshold: 0.5, examples: [a] },
        { id: 'A2', threshold: 0.9, examples: [unit(1, 0.2, 0)] },
      ],
    );
    expect(named.map((n) => n.present)).toEqual([true, false]);
  });

  it('answers not present, with no face, for a photo without faces', () => {
    expect(nameFaces([], [{ id: 'A', threshold: 0.5, examples: [a] }])).toEqual([
      { face: -1, score: 0, present: false },
    ]);
  });
});

describe('a person threshold', () => {
  it('is the floor when the bank scores low, else the bank plus the margin', () => {
    expect(calibratePerson([a, unit(1, 0.1, 0)], [b, c], [100, 100]).threshold).toBe(FACE_FLOOR);
    const [examples, close] = [[a, unit(1, 0.1, 0)], unit(1, 1.2, 0)];
    expect(faceScore(close, examples)).toBeGreaterThan(FACE_FLOOR);
    expect(calibratePerson(examples, [close], [100, 100]).threshold).toBeCloseTo(
      faceScore(close, examples) + FACE_MARGIN,
      3,
    );
  });

  it('says what to do about one photo, small faces and photos that disagree', () => {
    expect(calibratePerson([a], [], [100]).quality.reasons.join()).toMatch(/one photo/);
    expect(calibratePerson([a, unit(1, 0.1, 0)], [], [30, 100]).quality.reasons.join()).toMatch(/small in 1 of 2/);
    const disagree = calibratePerson([a, b, c], [], [100, 100, 100]).quality;
    expect(disagree.level).toBe('weak');
    expect(disagree.reasons.join()).toMatch(/disagree: 3 of 3/);
    expect(calibratePerson([a, unit(1, 0.1, 0), unit(1, 0, 0.1)], [], [80, 90, 100]).quality.level).toBe('good');
  });
});

describe("an example photo's face", () => {
  it('is the only face, a clearly largest one, or the one in the box; else a 422 that says what to do', () => {
    const big = face(100, 100, 100);
    expect(exampleFace([big], 1)).toBe(big);
    expect(exampleFace([face(0, 0, 60), big], 1)).toBe(big);
    expect(() => exampleFace([face(0, 0, 90), big], 2)).toThrow(/photo 2 shows 2 faces: give a box/);
    expect(exampleFace([face(0, 0, 90), big], 2, { x: 0, y: 0, w: 120, h: 120 }).box.w).toBe(90);
    expect(() => exampleFace([big], 3, { x: 300, y: 300, w: 50, h: 50 })).toThrow(/no face inside the box/);
    expect(() => exampleFace([], 4)).toThrow(/no face found in photo 4/);
  });
});

describe('opting in', () => {
  it('takes person-like categories, any case, to the face path', () => {
    expect(['person', ' Woman ', 'CHILD', 'baby'].every(isPersonCategory)).toBe(true);
    expect(['dog', 'personal item', '', undefined].some(isPersonCategory)).toBe(false);
  });

  it('is off by default, on for every tenant or the listed ones, and refuses other values', () => {
    expect(facesFromEnv({}, '/m').on).toBe(false);
    expect(facesFromEnv({ NOMEN_FACES: 'on', NOMEN_FACE_BANK_PHOTOS: '' }, '/m')).toEqual({
      on: true,
      bankPhotos: [],
      tenants: [],
    });
    expect(facesFromEnv({ NOMEN_FACES: 'on', NOMEN_FACES_TENANTS: 'acme, beta' }, '/m').tenants).toEqual([
      'acme',
      'beta',
    ]);
    expect(() => facesFromEnv({ NOMEN_FACES: 'yes please' }, '/m')).toThrow(/NOMEN_FACES must be on or off/);
  });

  it('answers a tenant left out with a 422 that names the setting', () => {
    const store = {} as FaceStore;
    const model = { name: 'm', dim: 3 } as FaceModel;
    const some = new People(store, { model, bank: { vectors: [], photo: [], photos: 0 }, tenants: new Set(['acme']) });
    expect(some.allows('acme')).toBe(true);
    expect(() => some.assertAllowed('beta')).toThrow(/NOMEN_FACES_TENANTS/);
    expect(() => new People(store).assertAllowed('acme')).toThrow(/NOMEN_FACES=on/);
  });
});
