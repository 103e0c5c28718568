/** Builds the adapter that a catalog entry names: the one entry point for "load model folder X". */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { catalog, catalogEntry, type CatalogEntry } from './catalog.js';
import type { ModelThreads } from './runtime/ort.js';
import { OnnxFaceModel } from './faces/face-model.js';
import { YoloxDetector } from './vision/detector.js';
import { OnnxImageEncoder } from './vision/encoder.js';
import type { FaceModel, ImageEncoder, LinearAlgebra, ObjectDetector, VisionLanguageModel } from './types.js';
import { NoVlm } from './vlm/vlm-none.js';
import type { OpenAiVlmOptions } from './vlm/vlm-openai.js';

function entryFor(folder: string): CatalogEntry {
  const entry = catalogEntry(folder);
  if (!entry)
    throw new Error(`unknown model "${folder}"; the catalog knows ${catalog.map((e) => e.folder).join(', ')}`);
  return entry;
}

/**
 * The image encoder in `modelsDir/folder`; CLIP/SigLIP ones also implement TextEncoder. `algebra` serves its region
 * scanner, if it has one.
 */
export async function openEncoder(
  threads: ModelThreads,
  modelsDir: string,
  folder: string,
  algebra: LinearAlgebra,
): Promise<ImageEncoder> {
  const entry = entryFor(folder);
  switch (entry.kind) {
    case 'onnx-encoder':
      return OnnxImageEncoder.open(threads, modelsDir, entry, algebra);
    case 'transformers-clip': {
      // Lazy: @huggingface/transformers is heavy and only these models need it.
      const { openClip } = await import('./vision/clip.js');
      return openClip(modelsDir, entry);
    }
    default:
      throw new Error(`model "${folder}" (kind ${entry.kind}) is not an image encoder`);
  }
}

export async function openDetector(threads: ModelThreads, modelsDir: string, folder: string): Promise<ObjectDetector> {
  const entry = entryFor(folder);
  if (entry.kind !== 'onnx-detector')
    throw new Error(`model "${folder}" (kind ${entry.kind}) is not an object detector`);
  return YoloxDetector.open(threads, modelsDir, entry);
}

export const DEFAULT_FACE_MODELS = { detector: 'yunet', embedder: 'mobilefacenet' } as const;

/** The face model of a detector with landmarks and a face embedding (person concepts). */
export async function openFaceModel(
  threads: ModelThreads,
  modelsDir: string,
  folders: { detector: string; embedder: string } = DEFAULT_FACE_MODELS,
): Promise<FaceModel> {
  const [detector, embedder] = [entryFor(folders.detector), entryFor(folders.embedder)];
  if (detector.kind !== 'onnx-face-detector')
    throw new Error(`model "${folders.detector}" (kind ${detector.kind}) is not a face detector`);
  if (embedder.kind !== 'onnx-face-embedder')
    throw new Error(`model "${folders.embedder}" (kind ${embedder.kind}) is not a face embedding`);
  return OnnxFaceModel.open(threads, modelsDir, detector, embedder);
}

/**
 * Which VLM to use and how to call it: the server client's own options (an empty `url`: the local model), plus what the
 * local model needs.
 */
export type VlmSettings = Pick<
  OpenAiVlmOptions,
  'url' | 'model' | 'apiKey' | 'timeoutMs' | 'retries' | 'concurrency'
> & {
  modelsDir: string;
  device: 'cpu' | 'cuda';
};

export const DEFAULT_LOCAL_VLM = 'smolvlm-256m-instruct';

/** The VLM the settings name: a server when a URL is set, else the local model if installed, else none (saying why). */
export async function openVlm(s: VlmSettings): Promise<VisionLanguageModel> {
  if (s.url) {
    const { OpenAiVlm, defaultOpenAiVlmOptions } = await import('./vlm/vlm-openai.js');
    const { modelsDir, device, ...server } = s;
    return new OpenAiVlm({ ...defaultOpenAiVlmOptions, ...server });
  }
  const folder = s.model || DEFAULT_LOCAL_VLM;
  const entry = catalogEntry(folder);
  if (entry?.kind !== 'transformers-vlm') {
    const local = catalog.filter((e) => e.kind === 'transformers-vlm').map((e) => e.folder);
    throw new Error(
      `NOMEN_VLM_MODEL "${folder}" is not a local VLM of the catalog (${local.join(', ')}); for a VLM server set ` +
        `NOMEN_VLM_URL too`,
    );
  }
  const dir = path.resolve(s.modelsDir, folder);
  if (!existsSync(dir)) {
    return new NoVlm(
      `no multimodal model: NOMEN_VLM_URL is not set and ${dir} does not exist (npm run fetch-models ${folder})`,
    );
  }
  // Lazy: transformers.js is heavy and only the local model needs it here.
  const { LocalVlm } = await import('./vlm/vlm-local.js');
  return new LocalVlm({ modelsDir: s.modelsDir, entry, device: s.device, timeoutMs: s.timeoutMs, maxQueue: 16 });
}
