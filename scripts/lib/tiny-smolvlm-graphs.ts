/**
 * The ONNX graphs of the tiny SmolVLM (make-tiny-smolvlm.ts): small float ones, randomly initialised but seeded,
 * with the input and output names and shapes of SmolVLM-256M-Instruct's export.
 */
import { seeded } from '../../concepts/random.js';
import {
  BOOL,
  FLOAT,
  INT64,
  floatTensor,
  floatValues,
  int64Tensor,
  intAttr,
  intsAttr,
  model,
  node,
  valueInfo,
} from './onnx-build.js';

export const TINY_SMOLVLM = {
  /** Side of the one tile an image becomes (max_image_size.longest_edge). */
  imageSize: 32,
  patch: 8,
  visionWidth: 8,
  /** Idefics3's pixel shuffle: 2x2 neighbouring patches become one token. */
  scaleFactor: 2,
  /** Tokens per image tile: (32 / 8)^2 / 2^2. */
  imageSeqLen: 4,
  hidden: 32,
  layers: 2,
  heads: 2,
  kvHeads: 1,
  headDim: 16,
} as const;

/**
 * pixel_values [B, N, 3, 32, 32] and pixel_attention_mask [B, N, 32, 32] -> image_features [B*N, 4, hidden]:
 * masked pixels (padding images) blanked, 8x8 patch conv, 2x2 pixel shuffle (SpaceToDepth), linear connector.
 */
export function visionEncoder(): Uint8Array {
  const { imageSize, patch, visionWidth, scaleFactor, imageSeqLen, hidden } = TINY_SMOLVLM;
  const next = seeded(11);
  const shuffled = visionWidth * scaleFactor * scaleFactor;
  return model({
    name: 'tiny_smolvlm_vision_encoder',
    input: [
      valueInfo('pixel_values', FLOAT, ['batch_size', 'num_images', 3, imageSize, imageSize]),
      valueInfo('pixel_attention_mask', BOOL, ['batch_size', 'num_images', imageSize, imageSize]),
    ],
    output: [valueInfo('image_features', FLOAT, ['num_tiles', imageSeqLen, hidden])],
    initializer: [
      int64Tensor('image_shape', [-1, 3, imageSize, imageSize]),
      int64Tensor('mask_shape', [-1, 1, imageSize, imageSize]),
      int64Tensor('token_shape', [0, shuffled, imageSeqLen]),
      floatTensor('patch_w', [visionWidth, 3, patch, patch], next, 0.2),
      floatTensor('patch_b', [visionWidth], next, 0.1),
      floatTensor('connector_w', [shuffled, hidden], next, 1),
    ],
    node: [
      node('Reshape', ['pixel_values', 'image_shape'], ['images']),
      node('Cast', ['pixel_attention_mask'], ['mask'], [intAttr('to', FLOAT)]),
      node('Reshape', ['mask', 'mask_shape'], ['masks']),
      node('Mul', ['images', 'masks'], ['visible']),
      node(
        'Conv',
        ['visible', 'patch_w', 'patch_b'],
        ['patches'],
        [intsAttr('kernel_shape', [patch, patch]), intsAttr('strides', [patch, patch])],
      ),
      node('SpaceToDepth', ['patches'], ['shuffled'], [intAttr('blocksize', scaleFactor)]),
      node('Reshape', ['shuffled', 'token_shape'], ['tokens_cf']),
      node('Transpose', ['tokens_cf'], ['tokens'], [intsAttr('perm', [0, 2, 1])]),
      node('MatMul', ['tokens', 'connector_w'], ['image_features']),
    ],
  });
}

/** input_ids [B, S] -> inputs_embeds [B, S, hidden]: a lookup table. */
export function embedTokens(vocabSize: number): Uint8Array {
  const next = seeded(12);
  return model({
    name: 'tiny_smolvlm_embed_tokens',
    input: [valueInfo('input_ids', INT64, ['batch_size', 'sequence_length'])],
    output: [valueInfo('inputs_embeds', FLOAT, ['batch_size', 'sequence_length', TINY_SMOLVLM.hidden])],
    initializer: [floatTensor('embed_table', [vocabSize, TINY_SMOLVLM.hidden], next, 1)],
    node: [node('Gather', ['embed_table', 'input_ids'], ['inputs_embeds'], [intAttr('axis', 0)])],
  });
}

/** One grouped-query attention layer over the cache (no causal mask: the tiny model needs only to be deterministic). */
function attentionLayer(i: number, input: string, output: string, next: () => number) {
  const { hidden, heads, kvHeads, headDim } = TINY_SMOLVLM;
  const p = (name: string) => `l${i}_${name}`;
  // This step's keys (values) in heads, appended to the cache: present = past ++ new along the sequence.
  const cached = (kind: 'key' | 'value', weight: string) => [
    node('MatMul', [input, p(weight)], [p(`${kind}_flat`)]),
    node('Reshape', [p(`${kind}_flat`), 'kv_split'], [p(`${kind}_split`)]),
    node('Transpose', [p(`${kind}_split`)], [p(`${kind}_heads`)], [intsAttr('perm', [0, 2, 1, 3])]),
    node(
      'Concat',
      [`past_key_values.${i}.${kind}`, p(`${kind}_heads`)],
      [`present.${i}.${kind}`],
      [intAttr('axis', 2)],
    ),
  ];
  return {
    initializer: [
      floatTensor(p('wq'), [hidden, heads * headDim], next, 0.6),
      floatTensor(p('wk'), [hidden, kvHeads * headDim], next, 0.6),
      floatTensor(p('wv'), [hidden, kvHeads * headDim], next, 0.3),
      floatTensor(p('wo'), [heads * headDim, hidden], next, 1),
    ],
    node: [
      node('MatMul', [input, p('wq')], [p('q')]),
      node('Reshape', [p('q'), 'q_split'], [p('q4')]),
      node('Transpose', [p('q4')], [p('qh')], [intsAttr('perm', [0, 2, 1, 3])]),
      ...cached('key', 'wk'),
      ...cached('value', 'wv'),
      node('Transpose', [`present.${i}.key`], [p('kt')], [intsAttr('perm', [0, 1, 3, 2])]),
      // [B, heads, S, d] x [B, kvHeads, d, T]: the key/value heads broadcast over the query heads.
      node('MatMul', [p('qh'), p('kt')], [p('scores')]),
      node('Mul', [p('scores'), 'inv_sqrt_d'], [p('scaled')]),
      node('Add', [p('scaled'), 'mask_bias'], [p('masked')]),
      node('Softmax', [p('masked')], [p('probs')], [intAttr('axis', -1)]),
      node('MatMul', [p('probs'), `present.${i}.value`], [p('ctx')]),
      node('Transpose', [p('ctx')], [p('ctx_t')], [intsAttr('perm', [0, 2, 1, 3])]),
      node('Reshape', [p('ctx_t'), 'merge_heads'], [p('ctx_m')]),
      node('MatMul', [p('ctx_m'), p('wo')], [p('attn')]),
      node('Add', [input, p('attn')], [output]),
    ],
  };
}

/**
 * inputs_embeds [B, S, hidden], attention_mask [B, P+S], position_ids [B, S] and past_key_values.{i}.key/value
 * [B, kvHeads, P, headDim] -> logits [B, S, vocab] and present.{i}.key/value [B, kvHeads, P+S, headDim].
 * Sinusoidal positions, two attention layers, an LM head, and a vocabulary bias that leaves only whole words.
 */
export function decoderModelMerged(vocab: { size: number; words: number[] }): Uint8Array {
  const { hidden, layers, heads, kvHeads, headDim } = TINY_SMOLVLM;
  const next = seeded(13);
  const cache = (prefix: string, length: string) =>
    Array.from({ length: layers }, (_, i) =>
      ['key', 'value'].map((kind) =>
        valueInfo(`${prefix}.${i}.${kind}`, FLOAT, ['batch_size', kvHeads, length, headDim]),
      ),
    ).flat();
  const frequencies = Array.from({ length: hidden }, (_, d) => 1 / 10000 ** ((2 * Math.floor(d / 2)) / hidden));
  const phases = Array.from({ length: hidden }, (_, d) => (d % 2) * (Math.PI / 2));
  const allowed = new Set(vocab.words);
  const vocabBias = Array.from({ length: vocab.size }, (_, id) => (allowed.has(id) ? 0 : -1e4));
  const stack = Array.from({ length: layers }, (_, i) => attentionLayer(i, `h${i}`, `h${i + 1}`, next));
  return model({
    name: 'tiny_smolvlm_decoder_model_merged',
    input: [
      valueInfo('inputs_embeds', FLOAT, ['batch_size', 'sequence_length', hidden]),
      valueInfo('attention_mask', INT64, ['batch_size', 'total_sequence_length']),
      valueInfo('position_ids', INT64, ['batch_size', 'sequence_length']),
      ...cache('past_key_values', 'past_sequence_length'),
    ],
    output: [
      valueInfo('logits', FLOAT, ['batch_size', 'sequence_length', vocab.size]),
      ...cache('present', 'total_sequence_length'),
    ],
    initializer: [
      int64Tensor('last_axis', [-1]),
      int64Tensor('head_axes', [1, 2]),
      int64Tensor('q_split', [0, 0, heads, headDim]),
      int64Tensor('kv_split', [0, 0, kvHeads, headDim]),
      int64Tensor('merge_heads', [0, 0, heads * headDim]),
      floatValues('frequencies', [hidden], frequencies),
      floatValues('phases', [hidden], phases),
      floatValues('one', [], [1]),
      floatValues('masked_out', [], [-1e4]),
      floatValues('inv_sqrt_d', [], [1 / Math.sqrt(headDim)]),
      ...stack.flatMap((l) => l.initializer),
      floatTensor('lm_head', [hidden, vocab.size], next, 1),
      floatValues('vocab_bias', [vocab.size], vocabBias),
    ],
    node: [
      node('Cast', ['position_ids'], ['positions'], [intAttr('to', FLOAT)]),
      node('Unsqueeze', ['positions', 'last_axis'], ['positions3']),
      node('Mul', ['positions3', 'frequencies'], ['angles']),
      node('Add', ['angles', 'phases'], ['phased']),
      node('Sin', ['phased'], ['position_embeds']),
      node('Add', ['inputs_embeds', 'position_embeds'], ['h0']),
      // attention_mask 0 -> -1e4 added to the scores of that key position.
      node('Cast', ['attention_mask'], ['mask'], [intAttr('to', FLOAT)]),
      node('Sub', ['one', 'mask'], ['unmasked']),
      node('Mul', ['unmasked', 'masked_out'], ['mask_bias2']),
      node('Unsqueeze', ['mask_bias2', 'head_axes'], ['mask_bias']),
      ...stack.flatMap((l) => l.node),
      // A final norm, as in the real model: logits of a fixed scale, whatever the layers add up to (temperature
      // sampling).
      node('LpNormalization', [`h${layers}`], ['h_norm'], [intAttr('axis', -1), intAttr('p', 2)]),
      node('MatMul', ['h_norm', 'lm_head'], ['raw_logits']),
      node('Add', ['raw_logits', 'vocab_bias'], ['logits']),
    ],
  });
}
