/**
 * Everyday categories whose text embeddings serve as generic negatives for CLIP-style encoders:
 * "not this concept" examples that need no photos. COCO-80 plus common household things, animals,
 * food, clothing, vehicles and scenes.
 */
import { COCO_LABELS } from './coco-labels.js';

const MORE = [
  // household
  'lamp', 'desk', 'pillow', 'blanket', 'curtain', 'window', 'door', 'mirror', 'shelf', 'cabinet',
  'carpet', 'towel', 'bathtub', 'stairs', 'fireplace', 'flower', 'candle', 'painting', 'basket', 'box',
  'plate', 'mug', 'pan', 'kettle', 'jar', 'toy', 'ball', 'shoe', 'hat', 'shirt',
  'dress', 'jacket', 'glasses', 'watch', 'wallet', 'key', 'pen', 'notebook', 'paper', 'monitor',
  'camera', 'headphones', 'guitar', 'piano', 'hammer', 'light bulb',
  // animals
  'rabbit', 'hamster', 'fish', 'turtle', 'snake', 'frog', 'duck', 'chicken', 'parrot', 'owl',
  'butterfly', 'spider', 'squirrel', 'deer', 'fox', 'lion', 'tiger', 'monkey', 'pig', 'goat',
  // food and drink
  'bread', 'cheese', 'egg', 'salad', 'soup', 'pasta', 'cookie', 'ice cream', 'coffee', 'strawberry',
  // street
  'van', 'ship', 'road', 'bridge', 'building', 'house', 'fence',
  // scenes and people
  'kitchen', 'bedroom', 'living room', 'office', 'garden', 'beach', 'forest', 'mountain', 'lake', 'sky',
  'snow', 'city', 'crowd', 'face', 'hand', 'child', 'baby', 'man', 'woman', 'document',
  'screenshot', 'texture',
];

export const GENERIC_CATEGORIES: readonly string[] = [...new Set([...COCO_LABELS, ...MORE])];

/** CLIP's standard zero-shot prompt for a category. */
export function categoryPrompt(category: string): string {
  return `a photo of a ${category}`;
}
