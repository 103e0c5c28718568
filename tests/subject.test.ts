import { describe, expect, it } from 'vitest';
import type { Region } from '../concepts/recognition/regions.js';
import { chooseSubjects, labelsForCategory } from '../concepts/learning/subject.js';

const whole: Region = { box: { x: 0, y: 0, w: 100, h: 100 }, source: 'whole' };
const detected = (x: number, label: string, w = 40): Region => ({
  box: { x, y: 10, w, h: 40 },
  source: 'detector',
  label,
});
const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
};

describe('labelsForCategory', () => {
  it('maps category words to detector labels', () => {
    expect(labelsForCategory('Puppy')).toEqual(['dog']);
    expect(labelsForCategory('stuffed animal')).toEqual(['teddy bear']);
    expect(labelsForCategory('my red backpack')).toContain('backpack');
    expect(labelsForCategory('zebra')).toEqual(['zebra']);
    expect(labelsForCategory('  ')).toEqual([]);
  });

  it('reads the last words, whole and singular: a label in a phrase is found, one inside a word is not', () => {
    expect(labelsForCategory('my horse')).toEqual(['horse']);
    expect(labelsForCategory('Kittens')).toEqual(['cat']);
    expect(labelsForCategory('Puppies')).toEqual(['dog']);
    expect(labelsForCategory('old phone')).toEqual(['cell phone']);
    expect(labelsForCategory('my teddy bear')).toEqual(['teddy bear']);
    expect(labelsForCategory('hot dogs')).toEqual(['hot dog']);
    expect(labelsForCategory('dog bowl')).not.toContain('dog');
    expect(labelsForCategory('cat toy')).toEqual([]);
    expect(labelsForCategory('scarf')).toEqual([]);
    expect(labelsForCategory('cabbage')).toEqual([]);
    expect(labelsForCategory('glasses')).toEqual([]);
    expect(labelsForCategory('café')).toEqual([]);
    expect(labelsForCategory('constructor')).toEqual([]);
  });
});

describe('chooseSubjects', () => {
  it('picks the object that looks alike across the examples, not the bigger one', () => {
    // Photo 0: a chair (big) and a dog; photo 1: a dog and a lamp. The dogs agree.
    const photos = [
      {
        regions: [whole, detected(0, 'chair', 60), detected(60, 'dog')],
        vectors: [unit(1, 1, 1), unit(0, 0, 1), unit(1, 0, 0)],
      },
      {
        regions: [whole, detected(10, 'dog'), detected(50, 'lamp')],
        vectors: [unit(1, 1, 0), unit(0.9, 0.1, 0), unit(0, 1, 0)],
      },
    ];
    expect(chooseSubjects(photos, '')).toEqual([2, 1]);
  });

  it('prefers the category, and falls back to the whole photo with no object and no window', () => {
    const one = [
      {
        regions: [whole, detected(0, 'chair', 35), detected(60, 'dog', 30)],
        vectors: [unit(1, 0), unit(0, 1), unit(1, 1)],
      },
    ];
    expect(chooseSubjects(one, '')).toEqual([1]);
    expect(chooseSubjects(one, 'dog')).toEqual([2]);
    expect(chooseSubjects([{ regions: [whole], vectors: [unit(1, 0)] }], 'dog')).toEqual([0]);
  });

  it('takes a window near the middle over objects at the edge that agree about as well: a held carton', () => {
    // The detector found the bottles on the shelf behind (at the edge); the carton held in the middle it missed.
    const middle: Region = { box: { x: 25, y: 25, w: 50, h: 50 }, source: 'grid' };
    const shelf: Region = { box: { x: 0, y: 0, w: 20, h: 60 }, source: 'detector', label: 'bottle' };
    const photo = (carton: Float32Array, bottles: Float32Array) => ({
      regions: [whole, middle, shelf],
      vectors: [unit(1, 1, 1, 1), carton, bottles],
    });
    // Cartons agree 0.80, bottles 0.86: the middle makes up the difference.
    const photos = [photo(unit(1, 0.5, 0, 0), unit(0, 0, 0.3, 1)), photo(unit(1, 0, 0.5, 0), unit(0, 0, -0.25, 1))];
    expect(chooseSubjects(photos, '')).toEqual([1, 1]);
  });

  it('takes a small object of the category (a dog across the lawn) that an object of another one would not be', () => {
    const window: Region = { box: { x: 0, y: 0, w: 75, h: 75 }, source: 'grid' };
    const far = (label: string): Region => ({ box: { x: 60, y: 60, w: 15, h: 15 }, source: 'detector', label });
    const photo = (label: string) => ({
      regions: [whole, window, far(label)],
      vectors: [unit(1, 1), unit(1, 0), unit(0, 1)],
    });
    expect(chooseSubjects([photo('dog'), photo('dog')], 'dog')).toEqual([2, 2]);
    expect(chooseSubjects([photo('bench'), photo('bench')], 'dog')).toEqual([1, 1]);
  });

  it('keeps the windows beside a small object of the category: a cup on the shelf behind the held mug', () => {
    const held: Region = { box: { x: 25, y: 25, w: 50, h: 50 }, source: 'grid' };
    const cup: Region = { box: { x: 85, y: 0, w: 12, h: 12 }, source: 'detector', label: 'cup' };
    // The held mug agrees across the photos; the cups behind it do not.
    const photos = [
      { regions: [whole, held, cup], vectors: [unit(1, 1, 1), unit(1, 0, 0), unit(0, 1, 0)] },
      { regions: [whole, held, cup], vectors: [unit(1, 1, 1), unit(1, 0.1, 0), unit(0, 0, 1)] },
    ];
    expect(chooseSubjects(photos, 'mug')).toEqual([1, 1]);
  });
});
