/** The catalog entry of the generated tiny CLIP model (scripts/make-tiny-clip.ts) that tests load. */
import type { TransformersClipEntry } from '../../models/catalog.js';

export const tinyClipEntry: TransformersClipEntry = {
  kind: 'transformers-clip',
  folder: 'tiny-clip',
  description: 'generated test model',
  license: 'none',
  repo: 'nomen/tiny-clip',
  dtype: 'fp32',
  files: [],
};
