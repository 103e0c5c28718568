/**
 * Writes a tiny CLIP-format model folder, offline and deterministic, that @huggingface/transformers
 * loads exactly like Xenova/clip-vit-base-patch32: config.json, preprocessor_config.json,
 * tokenizer.json, tokenizer_config.json, onnx/vision_model.onnx and onnx/text_model.onnx.
 * Tests use it to run the real openClip path (processor, tokenizer, onnxruntime) without a download.
 * The 'siglip' family writes the same folder in Xenova/siglip-* form (model_type siglip,
 * `pooler_output` outputs, text model without attention_mask) to cover openClip's SigLIP branch.
 *
 *   npx tsx scripts/make-tiny-clip.ts [DIR] [clip|siglip]     (default tests/fixtures/generated/tiny-clip, clip)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { seeded } from '../concepts/random.js';
import { byteAlphabet, tokenizerHead } from './lib/tokenizer-json.js';
import { FLOAT, INT64, floatTensor, int64Tensor, intAttr, intsAttr, model, node, valueInfo } from './lib/onnx-build.js';

export type Family = 'clip' | 'siglip';

export const TINY_CLIP = {
  imageSize: 32,
  patch: 4,
  channels: 8,
  textWidth: 32,
  dim: 16,
  maxTokens: 16,
} as const;

/** The output names transformers.js reads: CLIP's projected embeddings, SigLIP's pooled output. */
const OUTPUTS: Record<Family, { image: string; text: string }> = {
  clip: { image: 'image_embeds', text: 'text_embeds' },
  siglip: { image: 'pooler_output', text: 'pooler_output' },
};

/** pixel_values [N,3,32,32] -> 4x4 patch conv -> ReLU -> flatten -> linear -> embedding [N,16]. */
function visionModel(output: string): Uint8Array {
  const { imageSize, patch, channels, dim } = TINY_CLIP;
  const next = seeded(1);
  const grid = imageSize / patch;
  const flat = channels * grid * grid;
  return model({
    name: 'tiny_clip_vision',
    input: [valueInfo('pixel_values', FLOAT, ['batch_size', 3, imageSize, imageSize])],
    output: [valueInfo(output, FLOAT, ['batch_size', dim])],
    initializer: [
      floatTensor('patch_w', [channels, 3, patch, patch], next, 0.25),
      floatTensor('patch_b', [channels], next, 0.1),
      floatTensor('proj_w', [flat, dim], next, 0.1),
    ],
    node: [
      node(
        'Conv',
        ['pixel_values', 'patch_w', 'patch_b'],
        ['patches'],
        [intsAttr('kernel_shape', [patch, patch]), intsAttr('strides', [patch, patch])],
      ),
      node('Relu', ['patches'], ['patches_relu']),
      node('Flatten', ['patches_relu'], ['pooled'], [intAttr('axis', 1)]),
      node('MatMul', ['pooled', 'proj_w'], [output]),
    ],
  });
}

/**
 * input_ids [N,L] -> embedding lookup -> mean over tokens -> linear -> embedding [N,16].
 * CLIP's graph also takes attention_mask and averages only real tokens; SigLIP's (like the real
 * export) takes input_ids alone, its text being always padded to the same length.
 */
function textModel(family: Family, vocabSize: number): Uint8Array {
  const { textWidth, dim } = TINY_CLIP;
  const next = seeded(2);
  const ids = valueInfo('input_ids', INT64, ['batch_size', 'sequence_length']);
  const pool =
    family === 'clip'
      ? [
          node('Cast', ['attention_mask'], ['mask'], [intAttr('to', FLOAT)]),
          node('Unsqueeze', ['mask', 'last_axis'], ['mask3']),
          node('Mul', ['tokens', 'mask3'], ['masked']),
          node('ReduceSum', ['masked', 'seq_axis'], ['summed'], [intAttr('keepdims', 0)]),
          node('ReduceSum', ['mask', 'seq_axis'], ['count'], [intAttr('keepdims', 1)]),
          node('Div', ['summed', 'count'], ['pooled']),
        ]
      : [node('ReduceMean', ['tokens'], ['pooled'], [intsAttr('axes', [1]), intAttr('keepdims', 0)])];
  return model({
    name: `tiny_${family}_text`,
    input: family === 'clip' ? [ids, valueInfo('attention_mask', INT64, ['batch_size', 'sequence_length'])] : [ids],
    output: [valueInfo(OUTPUTS[family].text, FLOAT, ['batch_size', dim])],
    initializer: [
      floatTensor('token_embedding', [vocabSize, textWidth], next, 1),
      floatTensor('proj_w', [textWidth, dim], next, 0.3),
      ...(family === 'clip' ? [int64Tensor('seq_axis', [1]), int64Tensor('last_axis', [-1])] : []),
    ],
    node: [
      node('Gather', ['token_embedding', 'input_ids'], ['tokens'], [intAttr('axis', 0)]),
      ...pool,
      node('MatMul', ['pooled', 'proj_w'], [OUTPUTS[family].text]),
    ],
  });
}

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

/**
 * CLIP's tokenizer.json pipeline (NFC + whitespace + lowercase, CLIP split regex, byte-level BPE with
 * `</w>` word ends, RoBERTa-style BOS/EOS) with a byte-only vocabulary and a few merges.
 */
function tokenizer(): { json: object; vocabSize: number } {
  const bytes = byteAlphabet();
  const merges = [
    ['t', 'h'],
    ['th', 'e</w>'],
    ['o', 'f</w>'],
    ['p', 'h'],
    ['ph', 'o'],
  ];
  const tokens = [...bytes, ...bytes.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b), BOS, EOS];
  const { vocab, head } = tokenizerHead(tokens, [BOS, EOS], true);
  const json = {
    ...head,
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS, vocab[EOS]],
      cls: [BOS, vocab[BOS]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return { json, vocabSize: tokens.length };
}

/** config.json: the fields openClip and transformers.js read, in each family's layout. */
function modelConfig(family: Family, vocabSize: number): object {
  const { imageSize, patch, channels, textWidth, dim, maxTokens } = TINY_CLIP;
  if (family === 'siglip') {
    return {
      architectures: ['SiglipModel'],
      model_type: 'siglip',
      text_config: {
        model_type: 'siglip_text_model',
        hidden_size: textWidth,
        vocab_size: vocabSize,
        max_position_embeddings: maxTokens,
      },
      // SigLIP has no projection: the pooled output, hidden_size wide, is the embedding.
      vision_config: { model_type: 'siglip_vision_model', hidden_size: dim, image_size: imageSize, patch_size: patch },
    };
  }
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: dim,
    text_config: {
      model_type: 'clip_text_model',
      hidden_size: textWidth,
      vocab_size: vocabSize,
      max_position_embeddings: maxTokens,
      bos_token_id: vocabSize - 2,
      eos_token_id: vocabSize - 1,
    },
    vision_config: { model_type: 'clip_vision_model', hidden_size: channels, image_size: imageSize, patch_size: patch },
  };
}

/** preprocessor_config.json: CLIP resizes the short side and cuts the centre; SigLIP squashes to the square. */
function preprocessorConfig(family: Family): object {
  const { imageSize } = TINY_CLIP;
  const common = {
    do_resize: true,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    do_convert_rgb: true,
  };
  if (family === 'siglip') {
    return {
      ...common,
      image_processor_type: 'SiglipImageProcessor',
      size: { height: imageSize, width: imageSize },
      resample: 2,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    };
  }
  return {
    ...common,
    image_processor_type: 'CLIPImageProcessor',
    size: { shortest_edge: imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: imageSize, width: imageSize },
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
  };
}

/** Writes the tiny model folder into `dir` (created if needed) and returns `dir`. */
export async function makeTinyClip(dir: string, family: Family = 'clip'): Promise<string> {
  const tok = tokenizer();
  const tokenizerConfig = {
    tokenizer_class: family === 'clip' ? 'CLIPTokenizer' : 'SiglipTokenizer',
    bos_token: BOS,
    eos_token: EOS,
    unk_token: EOS,
    pad_token: EOS,
    model_max_length: TINY_CLIP.maxTokens,
    do_lower_case: true,
    add_prefix_space: false,
    clean_up_tokenization_spaces: true,
  };
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  await Promise.all([
    writeFile(path.join(dir, 'config.json'), json(modelConfig(family, tok.vocabSize))),
    writeFile(path.join(dir, 'preprocessor_config.json'), json(preprocessorConfig(family))),
    writeFile(path.join(dir, 'tokenizer.json'), json(tok.json)),
    writeFile(path.join(dir, 'tokenizer_config.json'), json(tokenizerConfig)),
    writeFile(path.join(dir, 'onnx', 'vision_model.onnx'), visionModel(OUTPUTS[family].image)),
    writeFile(path.join(dir, 'onnx', 'text_model.onnx'), textModel(family, tok.vocabSize)),
  ]);
  return dir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = path.resolve(process.argv[2] ?? 'tests/fixtures/generated/tiny-clip');
  const family = process.argv[3] ?? 'clip';
  if (family !== 'clip' && family !== 'siglip') throw new Error(`family must be clip or siglip, got ${family}`);
  await makeTinyClip(dir, family);
  console.log(`tiny ${family} model written to ${dir}`);
}
