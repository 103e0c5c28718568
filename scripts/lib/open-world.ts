/**
 * The open-world evaluation set: every subject of a data folder's subject sets (the shared one's DreamBooth and
 * objects), and its distractors split in two folds, one for the region bank and one queried, so no figure comes from
 * photos that the calibration has seen.
 */
import { existsSync, readdirSync } from 'node:fs';
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

/**
 * Distractors alternate between folds within each kind (pets_, shelf_, misc_), so both folds hold every kind; names
 * without a kind alternate among themselves.
 */
export async function distractorFolds(dir: string): Promise<[string[], string[]]> {
  const folds: [string[], string[]] = [[], []];
  const seen = new Map<string, number>();
  for (const file of await photoFiles([dir])) {
    const name = path.basename(file);
    const kind = name.includes('_') ? name.split('_')[0] : '';
    const n = seen.get(kind) ?? 0;
    seen.set(kind, n + 1);
    folds[n % 2].push(file);
  }
  return folds;
}

/** The folders of `data` (links too) that hold subjects: a classes.csv beside a folder per subject, in name order. */
function subjectSets(data: string): string[] {
  return readdirSync(data)
    .filter((name) => !['distractors', 'faces'].includes(name) && existsSync(path.join(data, name, 'classes.csv')))
    .sort();
}

/** The bank's photos of people, from a faces folder laid out as the shared one (none without it). */
async function facePhotos(faces: string): Promise<string[]> {
  if (!existsSync(faces)) return [];
  // People's photos are ordinary photos too, but one per person keeps 140 near-alike portraits from outnumbering the
  // rest.
  const people = readdirSync(path.join(faces, 'people')).map((who) => path.join(faces, 'people', who));
  const portraits = await Promise.all(people.map(async (dir) => (await photoFiles([dir]))[0]));
  return [...(await photoFiles([path.join(faces, 'groups'), path.join(faces, 'distractors')])), ...portraits];
}

/**
 * Every subject of every subject set in `data` (the shared data: dreambooth and objects), its distractors in two
 * folds, and the faces folder where there is one.
 */
export async function loadOpenWorld(data: string, trainCount: number, fold: 0 | 1): Promise<OpenWorldSet> {
  const layout = 'folders with a classes.csv (name,category) and a folder of photos per subject, and distractors/';
  const subjects = subjectSets(data).flatMap((set) =>
    loadSubjects(path.join(data, set), trainCount).map((s) => ({ ...s, set })),
  );
  const distractors = path.join(data, 'distractors');
  if (subjects.length === 0 || !existsSync(distractors)) throw new Error(`${data} should hold ${layout}`);
  const folds = await distractorFolds(distractors);
  if (folds[1].length === 0) throw new Error(`${distractors} should hold at least two photos, one per fold`);
  const bankPhotos = [...folds[fold], ...(await facePhotos(path.join(data, 'faces')))];
  return { subjects, heldOut: folds[1 - fold], bankPhotos };
}
