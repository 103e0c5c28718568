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
import { byteAlphabet, tokenizerHead } from './lib/tokenizer-json.js';
import { decoderModelMerged, embedTokens, TINY_SMOLVLM, visionEncoder } from './lib/tiny-smolvlm-graphs.js';

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
