/**
 * The open-world evaluation set: every subject of the shared DreamBooth and objects folders, and the shared
 * distractors split in two folds, one for the region bank and one queried, so no figure comes from photos
 * that the calibration has seen.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { photoFiles } from '../../concepts/learning/region-bank-file.js';
import { loadSubjects, type Subject } from './dreambooth.js';

export const sharedData = path.resolve(import.meta.dirname, '../../../shared/data');

export interface OpenWorldSet {
  subjects: (Subject & { set: string })[];
  /** Photos in which no subject appears, never seen by the bank of this fold. */
  heldOut: string[];
  /** Ordinary photos the region bank is built from: the other fold of distractors and the faces folder. */
  bankPhotos: string[];
}

/** Distractors alternate between folds within each kind (pets_, shelf_, misc_), so both folds hold every kind. */
export async function distractorFolds(dir: string): Promise<[string[], string[]]> {
  const folds: [string[], string[]] = [[], []];
  const seen = new Map<string, number>();
  for (const file of await photoFiles([dir])) {
    const kind = path.basename(file).split('_')[0];
    const n = seen.get(kind) ?? 0;
    seen.set(kind, n + 1);
    folds[n % 2].push(file);
  }
  return folds;
}

export async function loadOpenWorld(data: string, trainCount: number, fold: 0 | 1): Promise<OpenWorldSet> {
  const subjects = ['dreambooth', 'objects'].flatMap((set) =>
    loadSubjects(path.join(data, set), trainCount).map((s) => ({ ...s, set })),
  );
  const folds = await distractorFolds(path.join(data, 'distractors'));
  const faces = path.join(data, 'faces');
  // People's photos are ordinary photos too, but one per person keeps 140 near-alike portraits from outnumbering the
  // rest.
  const people = readdirSync(path.join(faces, 'people')).map((who) => path.join(faces, 'people', who));
  const portraits = await Promise.all(people.map(async (dir) => (await photoFiles([dir]))[0]));
  const bankPhotos = [
    ...folds[fold],
    ...(await photoFiles([path.join(faces, 'groups'), path.join(faces, 'distractors')])),
    ...portraits,
  ];
  return { subjects, heldOut: folds[1 - fold], bankPhotos };
}
