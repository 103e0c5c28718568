/**
 * Finds the subject of example photos that came without a box: of the detected objects (and the grid's windows, where
 * none of the category was detected), the one most consistent across the examples, the middle of the photo breaking
 * near ties.
 */
import { COCO_LABELS } from '../../models/vision/coco-labels.js';
import type { Region } from '../recognition/regions.js';
import { dot } from '../matrix.js';

/** COCO detector labels that a category word names other than, or besides, itself. */
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
const cocoLabels = new Set(COCO_LABELS);

/** The term and, for a word that may be a plural, its singulars (puppies, buses, dogs). */
function forms(term: string): string[] {
  if (term.length <= 3 || !term.endsWith('s')) return [term];
  const singulars = [term.slice(0, -1)];
  if (term.endsWith('es')) singulars.push(term.slice(0, -2));
  if (term.endsWith('ies')) singulars.push(`${term.slice(0, -3)}y`);
  return [term, ...singulars];
}

/** The detector labels a term names: through the table, or itself when it is one. */
function labelsOf(term: string): string[] {
  const labels = forms(term).flatMap((t) =>
    Object.hasOwn(categoryLabels, t) ? categoryLabels[t] : cocoLabels.has(t) ? [t] : [],
  );
  return [...new Set(labels)];
}

/**
 * The detector labels a category names, read from its last two words or else its last word: the thing named comes
 * last ("dog bowl" is a bowl, "cat toy" no cat, "teddy bear" no bear). Whole words only: a scarf is not a car.
 */
export function labelsForCategory(category: string): string[] {
  const words = category
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  if (words.length === 0) return [];
  const pair = words.length > 1 ? labelsOf(words.slice(-2).join(' ')) : [];
  return pair.length > 0 ? pair : labelsOf(words[words.length - 1]);
}

export interface PhotoRegions {
  regions: Region[];
  vectors: Float32Array[];
}

const minArea = 0.04;
/** An object of the category is the subject down to this share of the photo: a dog across the lawn is still the dog. */
const minCategoryArea = 0.005;
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
  const ofCategory = (r: Region) => r.label !== undefined && wanted.has(r.label);
  // A detected object of the category is the subject; else a held carton or a toy on a sofa may go undetected while
  // objects behind it are found, and the grid's windows stand in (beside a small one of the category: a cup on the
  // shelf behind the held mug).
  const candidates = photos.map((p, pi) => {
    const found = p.regions.flatMap((r, i) =>
      r.source === 'detector' && area(r, pi) >= (ofCategory(r) ? minCategoryArea : minArea) ? [i] : [],
    );
    if (found.some((i) => ofCategory(p.regions[i]) && area(p.regions[i], pi) >= minArea)) return found;
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
        (ofCategory(r) ? categoryBonus : 0) +
        centreBonus * centrality(r, wholes[pi]);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  });
}
