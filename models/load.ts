/** Builds the adapter that a catalog entry names: the one entry point for "load model folder X". */
import { catalog, catalogEntry, type CatalogEntry } from './catalog.js';
import { YoloxDetector } from './detector.js';
import { OnnxImageEncoder } from './encoder.js';
import { FeatureMapScanner } from './feature-map.js';
import type { ImageEncoder, ObjectDetector, RegionScanner } from './types.js';

function entryFor(folder: string): CatalogEntry {
  const entry = catalogEntry(folder);
  if (!entry) throw new Error(`unknown model "${folder}"; the catalog knows ${catalog.map((e) => e.folder).join(', ')}`);
  return entry;
}

/** The image encoder in `modelsDir/folder`; CLIP/SigLIP ones also implement TextEncoder. */
export async function loadEncoder(modelsDir: string, folder: string): Promise<ImageEncoder> {
  const entry = entryFor(folder);
  switch (entry.kind) {
    case 'onnx-encoder':
      return OnnxImageEncoder.load(modelsDir, entry);
    case 'transformers-clip': {
      // Lazy: @huggingface/transformers is heavy and only these models need it.
      const { loadClip } = await import('./clip.js');
      return loadClip(modelsDir, entry);
    }
    default:
      throw new Error(`model "${folder}" (kind ${entry.kind}) is not an image encoder`);
  }
}

export async function loadDetector(modelsDir: string, folder: string): Promise<ObjectDetector> {
  const entry = entryFor(folder);
  if (entry.kind !== 'onnx-detector') throw new Error(`model "${folder}" (kind ${entry.kind}) is not an object detector`);
  return YoloxDetector.load(modelsDir, entry);
}

/** The encoder's region scanner, when its catalog entry says how to read its feature map. */
export async function loadScanner(modelsDir: string, folder: string): Promise<RegionScanner | undefined> {
  const entry = entryFor(folder);
  if (entry.kind !== 'onnx-encoder' || !entry.featureMap) return undefined;
  return FeatureMapScanner.load(modelsDir, entry, entry.featureMap);
}
