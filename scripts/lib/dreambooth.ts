/** The shared DreamBooth photos as an evaluation set: subjects, categories, and a train/query split. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { isPhotoFile } from '../../concepts/learning/region-bank-file.js';

export interface Subject {
  name: string;
  category: string;
  train: string[];
  query: string[];
}

export const defaultDataDir = path.resolve(import.meta.dirname, '../../../shared/data/dreambooth');
export const defaultModelsDir = path.resolve(import.meta.dirname, '../../../shared/models');

/** Every subject of `classes.csv`, its first `trainCount` photos for registration and the rest as queries. */
export function loadSubjects(dir: string, trainCount: number): Subject[] {
  const rows = readFileSync(path.join(dir, 'classes.csv'), 'utf8').trim().split('\n').slice(1);
  return rows.map((row) => {
    const [name, category] = row.split(',').map((s) => s.trim());
    const photos = readdirSync(path.join(dir, name))
      .filter(isPhotoFile)
      .sort()
      .map((f) => path.join(dir, name, f));
    return { name, category, train: photos.slice(0, trainCount), query: photos.slice(trainCount) };
  });
}
