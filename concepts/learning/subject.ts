/**
 * Finds the subject of example photos that came without a box: of the detected objects (and the grid's windows, where
 * none of the category was detected), the one most consistent across the examples, the middle of the photo breaking
 * near ties.
 */
import type { Region } from '../recognition/regions.js';
import { dot } from '../matrix.js';

/** Detector labels (COCO's) that a user's category word may name, where the word is not a label itself. */
const categoryLabels: Record<string, string[]> = {
  puppy: ['dog'],
  kitten: ['cat'],
  parrot: ['bird'],
  budgie: ['bird'],
  pony: ['horse'],
  lamb: ['sheep'],
  'stuffed animal': ['teddy bear'],
  plushie: ['teddy bear'],
  teddy: ['teddy bear'],
  backpack: ['backpack', 'handbag', 'suitcase'],
  bag: ['backpack', 'handbag', 'suitcase'],
  purse: ['handbag'],
  luggage: ['suitcase'],
  bowl: ['bowl', 'cup'],
  mug: ['cup'],
  glass: ['wine glass', 'cup'],
  can: ['bottle', 'cup'],
  teapot: ['vase', 'cup', 'bowl'],
  car: ['car', 'truck'],
  bike: ['bicycle', 'motorcycle'],
  motorbike: ['motorcycle'],
  scooter: ['motorcycle'],
  ball: ['sports ball'],
  phone: ['cell phone'],
  smartphone: ['cell phone'],
  sofa: ['couch'],
  plant: ['potted plant'],
  child: ['person'],
  baby: ['person'],
};

/** The term and, for a plural, its singular. */
const forms = (term: string) => (term.endsWith('s') ? [term, term.slice(0, -1)] : [term]);
/** The table's labels for the term, singular or plural (none for a word it lacks, "constructor" among them). */
const known = (term: string) => forms(term).flatMap((t) => (Object.hasOwn(categoryLabels, t) ? categoryLabels[t] : []));

/**
 * The detector labels a category may name: the table's for its word pairs and its other words (singular or
 * plural), and the pairs and words themselves, which may be labels ("horse", "teddy bear"). Whole words only: a scarf
 * is not a car.
 */
export function labelsForCategory(category: string): string[] {
  const words = category
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  const labels: string[] = [];
  const inPair = new Set<number>();
  for (let i = 1; i < words.length; i++) {
    const pair = `${words[i - 1]} ${words[i]}`;
    const mapped = known(pair);
    if (mapped.length > 0) inPair.add(i - 1).add(i);
    labels.push(...(mapped.length > 0 ? mapped : forms(pair)));
  }
  words.forEach((w, i) => {
    if (inPair.has(i)) return;
    const mapped = known(w);
    labels.push(...(mapped.length > 0 ? mapped : forms(w)));
  });
  return [...new Set(labels)];
}

export interface PhotoRegions {
  regions: Region[];
  vectors: Float32Array[];
}

const minArea = 0.04;
const categoryBonus = 0.1;
/** A region at the photo's centre gains as much as one whose label names the category: people centre their subject. */
const centreBonus = 0.1;

/** 1 for a region centred in the photo, 0 for one centred on its edge. */
function centrality(r: Region, whole: Region): number {
  const dx = Math.abs(r.box.x + r.box.w / 2 - (whole.box.x + whole.box.w / 2)) / (whole.box.w / 2);
  const dy = Math.abs(r.box.y + r.box.h / 2 - (whole.box.y + whole.box.h / 2)) / (whole.box.h / 2);
  return 1 - Math.max(dx, dy);
}

/** The index, per photo, of the region holding the subject. */
export function chooseSubjects(photos: PhotoRegions[], category: string): number[] {
  const wanted = new Set(labelsForCategory(category));
  const wholes = photos.map((p) => p.regions.find((r) => r.source === 'whole')!);
  const area = (r: Region, pi: number) => (r.box.w * r.box.h) / (wholes[pi].box.w * wholes[pi].box.h);
  // A detected object of the category is the subject; else a held carton or a toy on a sofa may go undetected while
  // objects behind it are found, and the grid's windows stand in.
  const candidates = photos.map((p, pi) => {
    const found = p.regions.flatMap((r, i) => (r.source === 'detector' && area(r, pi) >= minArea ? [i] : []));
    if (found.some((i) => wanted.has(p.regions[i].label!))) return found;
    const windows = p.regions.flatMap((r, i) => (r.source === 'grid' ? [i] : []));
    const all = [...found, ...windows];
    return all.length > 0 ? all : [p.regions.indexOf(wholes[pi])];
  });
  return photos.map((p, pi) => {
    let best = candidates[pi][0];
    let bestScore = -Infinity;
    for (const i of candidates[pi]) {
      const r = p.regions[i];
      let agreement = 0;
      let others = 0;
      photos.forEach((q, qi) => {
        if (qi === pi) return;
        others++;
        agreement += Math.max(...candidates[qi].map((j) => dot(p.vectors[i], q.vectors[j])));
      });
      // With one photo there is nothing to agree with: the biggest object wins.
      const score =
        (others > 0 ? agreement / others : area(r, pi)) +
        (r.label && wanted.has(r.label) ? categoryBonus : 0) +
        centreBonus * centrality(r, wholes[pi]);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  });
}
