/**
 * Writes a tiny SmolVLM-format (Idefics3) model folder, offline and deterministic, that @huggingface/transformers
 * loads exactly like HuggingFaceTB/SmolVLM-256M-Instruct's ONNX export at dtype q8: the catalog's files
 * (config.json, generation_config.json, preprocessor_config.json, processor_config.json, special_tokens_map.json,
 * tokenizer.json, tokenizer_config.json with SmolVLM's chat template) and onnx/{vision_encoder,embed_tokens,
 * decoder_model_merged}_quantized.onnx. The graphs are small float ones, randomly initialised: a patch conv,
 * pixel shuffle and connector for the images; an embedding table; two grouped-query attention layers with a
 * real KV cache and an LM head. Tests use it to run the real LocalVlm path (processor, chat template, image
 * merging, generation, streaming) without a download.
 *
 *   npx tsx scripts/make-tiny-smolvlm.ts [DIR]     (default tests/fixtures/generated/tiny-smolvlm)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { seeded } from '../concepts/random.js';
import { byteAlphabet, tokenizerHead } from './lib/tokenizer-json.js';
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
} from './lib/onnx-build.js';

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

/** The only tokens the tiny model ever generates: whole words, so an answer's word count is its token count. */
export const TINY_SMOLVLM_WORDS = [
  'a',
  'the',
  'dog',
  'cat',
  'bird',
  'person',
  'red',
  'blue',
  'green',
  'white',
  'black',
  'brown',
  'small',
  'large',
  'photo',
  'of',
  'with',
  'on',
  'in',
  'and',
  'is',
  'sitting',
  'standing',
  'grass',
  'table',
  'car',
  'tree',
  'sky',
  'near',
  'under',
  'left',
  'right',
  'two',
  'one',
  'ball',
  'collar',
  'fur',
  'wall',
  'window',
  'room',
  'street',
  'water',
  'field',
  'cup',
  'book',
  'chair',
  'light',
  'dark',
] as const;

const IMAGE = '<image>';
const FAKE_AROUND_IMAGE = '<fake_token_around_image>';
const GLOBAL_IMAGE = '<global-img>';
const END_OF_UTTERANCE = '<end_of_utterance>';
/** SmolLM2's first three ids. */
const LEADING_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
/** SmolVLM's image tokens: the processor writes <row_R_col_C> before each tile of a split image. */
const IMAGE_SPECIALS = [
  FAKE_AROUND_IMAGE,
  IMAGE,
  GLOBAL_IMAGE,
  ...Array.from({ length: 36 }, (_, i) => `<row_${Math.floor(i / 6) + 1}_col_${(i % 6) + 1}>`),
];

/** SmolVLM's chat template, as in the real tokenizer_config.json. */
const CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == " +
  "'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' " +
  "%}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor " +
  "%}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

interface Vocabulary {
  json: object;
  size: number;
  id: (token: string) => number;
  /** Ids of the whole-word tokens (`Ġword`). */
  words: number[];
}

/**
 * SmolLM2's tokenizer.json pipeline (digits split, GPT-2 byte-level pre-tokenizer and decoder, byte-level BPE)
 * over a byte vocabulary plus the merges that build each word of TINY_SMOLVLM_WORDS after a space.
 */
function tokenizer(): Vocabulary {
  const bytes = byteAlphabet();
  const space = bytes[32];
  const tokens = [...LEADING_SPECIALS, ...bytes];
  const merges: string[] = [];
  for (const word of TINY_SMOLVLM_WORDS) {
    let prefix = space;
    for (const ch of word) {
      if (!tokens.includes(prefix + ch)) {
        merges.push(`${prefix} ${ch}`);
        tokens.push(prefix + ch);
      }
      prefix += ch;
    }
  }
  tokens.push(...IMAGE_SPECIALS, END_OF_UTTERANCE);
  const { vocab, head } = tokenizerHead(tokens, [...LEADING_SPECIALS, ...IMAGE_SPECIALS, END_OF_UTTERANCE], false);
  const json = {
    ...head,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Digits', individual_digits: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
  return {
    json,
    size: tokens.length,
    id: (token) => vocab[token],
    words: TINY_SMOLVLM_WORDS.map((w) => vocab[space + w]),
  };
}

/**
 * pixel_values [B, N, 3, 32, 32] and pixel_attention_mask [B, N, 32, 32] -> image_features [B*N, 4, hidden]:
 * masked pixels (padding images) blanked, 8x8 patch conv, 2x2 pixel shuffle (SpaceToDepth), linear connector.
 */
function visionEncoder(): Uint8Array {
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
function embedTokens(vocabSize: number): Uint8Array {
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
function decoderModelMerged(vocab: Vocabulary): Uint8Array {
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

/** config.json: Idefics3's layout, with the text model's cache geometry (layers, kv heads, head dim) in text_config. */
function modelConfig(vocab: Vocabulary): object {
  const { imageSize, patch, visionWidth, scaleFactor, hidden, layers, heads, kvHeads, headDim } = TINY_SMOLVLM;
  return {
    architectures: ['Idefics3ForConditionalGeneration'],
    model_type: 'idefics3',
    image_token_id: vocab.id(IMAGE),
    scale_factor: scaleFactor,
    pad_token_id: vocab.id('<|im_end|>'),
    tie_word_embeddings: false,
    use_cache: true,
    vision_config: {
      model_type: 'idefics3_vision',
      hidden_size: visionWidth,
      image_size: imageSize,
      patch_size: patch,
      num_channels: 3,
    },
    text_config: {
      model_type: 'llama',
      vocab_size: vocab.size,
      hidden_size: hidden,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: headDim,
      max_position_embeddings: 8192,
      bos_token_id: vocab.id('<|im_start|>'),
      eos_token_id: vocab.id(END_OF_UTTERANCE),
      pad_token_id: vocab.id('<|im_end|>'),
    },
  };
}

/** Writes the tiny model folder into `dir` (created if needed) and returns `dir`. */
export async function makeTinySmolVlm(dir: string): Promise<string> {
  const vocab = tokenizer();
  const { imageSize, imageSeqLen } = TINY_SMOLVLM;
  const specials = {
    bos_token: '<|im_start|>',
    eos_token: END_OF_UTTERANCE,
    pad_token: '<|im_end|>',
    unk_token: '<|endoftext|>',
  };
  const additional = [FAKE_AROUND_IMAGE, IMAGE, END_OF_UTTERANCE];
  const files: Record<string, object> = {
    'config.json': modelConfig(vocab),
    'generation_config.json': {
      bos_token_id: vocab.id(specials.bos_token),
      eos_token_id: vocab.id(END_OF_UTTERANCE),
      pad_token_id: vocab.id(specials.pad_token),
    },
    'preprocessor_config.json': {
      image_processor_type: 'Idefics3ImageProcessor',
      processor_class: 'Idefics3Processor',
      do_convert_rgb: true,
      do_image_splitting: true,
      do_normalize: true,
      do_pad: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
      // The real model's ratio: images up to 4 tiles a side, each tile what the vision encoder sees.
      max_image_size: { longest_edge: imageSize },
      size: { longest_edge: 4 * imageSize },
      resample: 1,
      rescale_factor: 1 / 255,
    },
    'processor_config.json': { image_seq_len: imageSeqLen, processor_class: 'Idefics3Processor' },
    'special_tokens_map.json': { ...specials, additional_special_tokens: additional },
    'tokenizer.json': vocab.json,
    'tokenizer_config.json': {
      tokenizer_class: 'GPT2Tokenizer',
      ...specials,
      additional_special_tokens: additional,
      add_prefix_space: false,
      clean_up_tokenization_spaces: false,
      model_max_length: 8192,
      processor_class: 'Idefics3Processor',
      chat_template: CHAT_TEMPLATE,
    },
  };
  await mkdir(path.join(dir, 'onnx'), { recursive: true });
  // Float graphs under the q8 (`_quantized`) names the catalog's dtype makes transformers.js ask for.
  await Promise.all([
    ...Object.entries(files).map(([name, value]) =>
      writeFile(path.join(dir, name), `${JSON.stringify(value, null, 2)}\n`),
    ),
    writeFile(path.join(dir, 'onnx', 'vision_encoder_quantized.onnx'), visionEncoder()),
    writeFile(path.join(dir, 'onnx', 'embed_tokens_quantized.onnx'), embedTokens(vocab.size)),
    writeFile(path.join(dir, 'onnx', 'decoder_model_merged_quantized.onnx'), decoderModelMerged(vocab)),
  ]);
  return dir;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = path.resolve(process.argv[2] ?? 'tests/fixtures/generated/tiny-smolvlm');
  await makeTinySmolVlm(dir);
  console.log(`tiny SmolVLM model written to ${dir}`);
}
