/**
 * CLIP and SigLIP image/text encoders through @huggingface/transformers, read from a local folder
 * installed by fetch-models. Image and text vectors share one space, so text prompts can stand in
 * for photos (generic negatives, zero-shot labels).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AutoProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  RawImage,
  SiglipTextModel,
  SiglipVisionModel,
  env,
  type Tensor,
} from '@huggingface/transformers';
import type { TransformersClipEntry } from '../catalog.js';
import { cropImage } from '../image/crop-image.js';
import { GENERIC_CATEGORIES, categoryPrompt } from './generic-categories.js';
import type { Crop, ImageEncoder, TextEncoder } from '../types.js';

/** The config.json fields we read; absent ones take the Hugging Face config defaults. */
interface ClipConfig {
  model_type?: string;
  projection_dim?: number;
  vision_config?: { hidden_size?: number };
  text_config?: { max_position_embeddings?: number };
}

async function readConfig(dir: string, folder: string): Promise<ClipConfig> {
  const file = path.join(dir, 'config.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ClipConfig;
  } catch (e) {
    const reason = (e as Error).message;
    throw new Error(`cannot read ${file} (${reason}); install the model with: npm run fetch-models ${folder}`);
  }
}

/** Rows of a [N, dim] tensor, each scaled to unit length (cosine similarity becomes a dot product). */
function unitRows(t: Tensor, dim: number): Float32Array[] {
  const [n, width] = t.dims;
  if (width !== dim) throw new Error(`model output has ${width} values per row, config says ${dim}`);
  const data = t.data as Float32Array;
  const rows: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const row = data.slice(i * dim, (i + 1) * dim);
    let sum = 0;
    for (const v of row) sum += v * v;
    const scale = 1 / Math.max(Math.sqrt(sum), 1e-12);
    for (let j = 0; j < dim; j++) row[j] *= scale;
    rows.push(row);
  }
  return rows;
}

export async function openClip(modelsDir: string, entry: TransformersClipEntry): Promise<ImageEncoder & TextEncoder> {
  // Models come only from disk: a missing file must fail, never trigger a hub download.
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // An absolute path is not a hub id: transformers.js reads the folder as is, without env.localModelPath.
  const dir = path.resolve(modelsDir, entry.folder);
  const config = await readConfig(dir, entry.folder);
  const siglip = config.model_type === 'siglip';
  const options = { dtype: entry.dtype, local_files_only: true } as const;

  const [processor, tokenizer, vision, text] = await Promise.all([
    AutoProcessor.from_pretrained(dir, options),
    AutoTokenizer.from_pretrained(dir, options),
    (siglip ? SiglipVisionModel : CLIPVisionModelWithProjection).from_pretrained(dir, options),
    (siglip ? SiglipTextModel : CLIPTextModelWithProjection).from_pretrained(dir, options),
  ]);

  // CLIP projects into projection_dim (default 512); SigLIP's pooled output is the embedding (hidden_size, 768).
  const dim = siglip ? (config.vision_config?.hidden_size ?? 768) : (config.projection_dim ?? 512);
  const imageOutput = siglip ? 'pooler_output' : 'image_embeds';
  const textOutput = siglip ? 'pooler_output' : 'text_embeds';
  // SigLIP was trained on text padded to a fixed 64 tokens; CLIP pools the EOS token, so any padding works.
  const tokenizeOptions = siglip
    ? {
        padding: 'max_length' as const,
        max_length: config.text_config?.max_position_embeddings ?? 64,
        truncation: true,
      }
    : { padding: true, truncation: true };

  async function embedText(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const inputs = tokenizer(texts, tokenizeOptions);
    const out = await text(inputs);
    return unitRows(out[textOutput], dim);
  }

  let negatives: Promise<Float32Array[]> | undefined;

  return {
    name: entry.folder,
    dim,
    async embed(crops: Crop[]): Promise<Float32Array[]> {
      if (crops.length === 0) return [];
      const images = crops.map((crop) => {
        const { data, width, height } = cropImage(crop);
        return new RawImage(data, width, height, 3);
      });
      const inputs = await processor(images);
      const out = await vision(inputs);
      return unitRows(out[imageOutput], dim);
    },
    embedText,
    negativeBank(): Promise<Float32Array[]> {
      // Computed once and shared; a failure is not cached, so the next call retries.
      negatives ??= embedText(GENERIC_CATEGORIES.map(categoryPrompt)).catch((e: unknown) => {
        negatives = undefined;
        throw e;
      });
      return negatives;
    },
    async dispose(): Promise<void> {
      await Promise.all([vision.dispose(), text.dispose()]);
    },
  };
}
