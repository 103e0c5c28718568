/** The shared DreamBooth photos as an evaluation set: subjects, categories, and a train/query split. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

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
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort()
      .map((f) => path.join(dir, name, f));
    return { name, category, train: photos.slice(0, trainCount), query: photos.slice(trainCount) };
  });
}

/** mulberry32: seeded, so every run builds the same scenes. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
