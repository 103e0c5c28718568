/** The models nomen knows: files, checksums, sources and how to feed them. Which one is used is configuration. */

export type Layout = 'nchw' | 'nhwc';
/** How a crop becomes the model's square input: squash it, or resize the short side and cut the centre. */
export type ResizePolicy = 'squash' | 'shortside-centercrop' | 'letterbox';

export interface ModelFile {
  path: string;
  /**
   * Size and checksum as recorded from a verified copy. Files nobody has verified yet (the large
   * Hugging Face models) leave them out: fetch-models then downloads without a check and says so.
   */
  bytes?: number;
  sha256?: string;
  /** Public download address; fetch-models uses it on a machine with internet. */
  url: string;
}

interface Common {
  /** Folder name under NOMEN_MODELS. */
  folder: string;
  description: string;
  license: string;
  files: ModelFile[];
}

export interface OnnxEncoderEntry extends Common {
  kind: 'onnx-encoder';
  model: string;
  input: string;
  output: string;
  size: number;
  layout: Layout;
  channels: 'rgb' | 'bgr';
  /** Pixels are scaled to [0, 1] by `scale`, then (x - mean) / std per channel. */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  resize: ResizePolicy;
  /** Resize short side to size / cropFraction before cutting the centre (0.875 = 256 -> 224). */
  cropFraction: number;
  dim: number;
  /** Classifier logits output and labels, used for the generic negative bank. */
  classifier?: { output: string; labels: string };
  /** Embed regions by pooling one feature map per photo instead of one pass per crop (CNNs only). */
  featureMap?: { output: string; side: number; stride: number };
}

/** A width x height input of the encoder as resample.ts draws it: the entry's channel order and normalisation. */
export function inputCanvas(entry: OnnxEncoderEntry, width: number, height: number) {
  const { layout, scale, mean, std } = entry;
  return {
    width,
    height,
    layout,
    bgr: entry.channels === 'bgr',
    gain: [0, 1, 2].map((c) => scale / std[c]) as [number, number, number],
    bias: [0, 1, 2].map((c) => -mean[c] / std[c]) as [number, number, number],
  };
}

export interface OnnxDetectorEntry extends Common {
  kind: 'onnx-detector';
  model: string;
  input: string;
  output: string;
  size: number;
  channels: 'rgb' | 'bgr';
  padValue: number;
  labels: string;
  nmsIou: number;
}

/** A face detector with 5 landmarks (YuNet's raw head: per stride cls, obj, bbox, kps; decode and NMS outside). */
export interface OnnxFaceDetectorEntry extends Common {
  kind: 'onnx-face-detector';
  model: string;
  input: string;
  /** Square input side; the photo is letterboxed into it (BGR, raw 0-255). */
  size: number;
  minScore: number;
  nmsIou: number;
}

/** A face embedding of an aligned face (5-point similarity transform onto the 112x112 template). */
export interface OnnxFaceEmbedderEntry extends Common {
  kind: 'onnx-face-embedder';
  model: string;
  input: string;
  output: string;
  size: number;
  /** RGB pixels scaled to [0, 1], then (x - mean) / std per channel. */
  mean: [number, number, number];
  std: [number, number, number];
  dim: number;
}

export interface TransformersClipEntry extends Common {
  kind: 'transformers-clip';
  /** Hugging Face repo id the folder mirrors. */
  repo: string;
  dtype: 'fp32' | 'fp16' | 'q8';
}

/**
 * A small multimodal chat model (VLM) run locally through transformers.js: the fallback when no VLM server is
 * configured.
 */
export interface TransformersVlmEntry extends Common {
  kind: 'transformers-vlm';
  /** Hugging Face repo id the folder mirrors. */
  repo: string;
  /** transformers.js precision of each ONNX part (q8 = the `_quantized` files: small and quick on CPUs). */
  dtype: Record<'vision_encoder' | 'embed_tokens' | 'decoder_model_merged', 'fp32' | 'fp16' | 'q8' | 'q4'>;
}

export type CatalogEntry =
  | OnnxEncoderEntry
  | OnnxDetectorEntry
  | OnnxFaceDetectorEntry
  | OnnxFaceEmbedderEntry
  | TransformersClipEntry
  | TransformersVlmEntry;

/** Files of a transformers.js model repo, from `main` on the Hugging Face hub (not yet pinned: no checksums). */
function hubFiles(repo: string, paths: string[]): ModelFile[] {
  return paths.map((path) => ({ path, url: `https://huggingface.co/${repo}/resolve/main/${path}` }));
}

/** What transformers.js reads for a CLIP/SigLIP pair at dtype fp32 (fp32 model files carry no suffix). */
const TRANSFORMERS_JS_FILES = [
  'config.json',
  'preprocessor_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/vision_model.onnx',
  'onnx/text_model.onnx',
];

/**
 * What transformers.js reads for an Idefics3/SmolVLM model at dtype q8 (the chat template is in tokenizer_config.json).
 */
const SMOLVLM_FILES = [
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'processor_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'onnx/vision_encoder_quantized.onnx',
  'onnx/embed_tokens_quantized.onnx',
  'onnx/decoder_model_merged_quantized.onnx',
];

const SMOLVLM_DTYPE = { vision_encoder: 'q8', embed_tokens: 'q8', decoder_model_merged: 'q8' } as const;

const ZOO = 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model';

export const catalog: CatalogEntry[] = [
  {
    kind: 'onnx-encoder',
    folder: 'mobilenetv2-12-int8',
    description: 'MobileNetV2-1.0 int8 (ONNX Model Zoo), 1280-d pooled features plus ImageNet logits',
    license: 'Apache-2.0',
    model: 'mobilenetv2-12-int8-features.onnx',
    input: 'input',
    output: 'features',
    size: 224,
    layout: 'nchw',
    channels: 'rgb',
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    resize: 'shortside-centercrop',
    cropFraction: 0.875,
    dim: 1280,
    classifier: { output: 'output', labels: 'imagenet-simple-labels.json' },
    // '627' is the dequantised 1280-channel map before the model's own global average pool.
    featureMap: { output: '627', side: 448, stride: 32 },
    files: [
      {
        path: 'mobilenetv2-12-int8.onnx',
        bytes: 3655033,
        sha256: 'cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f',
        url: `${ZOO}/mobilenetv2-12-int8.onnx`,
      },
      {
        path: 'imagenet-simple-labels.json',
        bytes: 14209,
        sha256: '987705581d9446328498f950454a1cc7d8dfc578a8243d8bfdcd2588a6905aae',
        url: 'https://raw.githubusercontent.com/anishathalye/imagenet-simple-labels/master/imagenet-simple-labels.json',
      },
    ],
  },
  {
    kind: 'onnx-detector',
    folder: 'yolox-nano',
    description: 'YOLOX-Nano 416, COCO-80 boxes: region proposals with category labels',
    license: 'Apache-2.0',
    model: 'yolox_nano.onnx',
    input: 'images',
    output: 'output',
    size: 416,
    channels: 'bgr',
    padValue: 114,
    labels: 'coco-labels.json',
    nmsIou: 0.45,
    files: [
      {
        path: 'yolox_nano.onnx',
        bytes: 3660092,
        sha256: '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14',
        url:
          'https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/raw/' +
          '3d4f1119d0694200671c08069ecb847aa0d8495a/model/yolox_nano.onnx',
      },
    ],
  },
  {
    kind: 'onnx-face-detector',
    folder: 'yunet',
    description: 'YuNet-s 640 (libfacedetection v3): face boxes with 5 landmarks, for aligning faces',
    license: 'Apache-2.0',
    model: 'yunet_s_640_640.onnx',
    input: 'input',
    size: 640,
    minScore: 0.6,
    nmsIou: 0.3,
    files: [
      {
        path: 'yunet_s_640_640.onnx',
        bytes: 232589,
        sha256: '8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4',
        url:
          'https://github.com/ShiqiYu/libfacedetection.train/raw/' +
          '2b5e61dee21441ef4676505f835ab63ee53bae1e/onnx/yunet_s_640_640.onnx',
      },
    ],
  },
  {
    kind: 'onnx-face-embedder',
    folder: 'mobilefacenet',
    description: 'MobileFaceNet (foamliu), 128-d identity vectors of aligned 112x112 faces: person concepts',
    license: 'Apache-2.0 (weights trained on MS-Celeb-1M)',
    model: 'MobileFaceNet.onnx',
    input: 'input0',
    output: 'output0',
    size: 112,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    dim: 128,
    files: [
      {
        path: 'MobileFaceNet.onnx',
        bytes: 3998070,
        sha256: 'b7120c095d60094f28a4a54ba6a8bf51b297a6273fb40ef6350dfec1f63d9507',
        url:
          'https://github.com/foamliu/MobileFaceNet/raw/' +
          '408e13c0bcd1c10b666f00b07efcc2eab3c5d195/weights/MobileFaceNet.onnx',
      },
    ],
  },
  {
    kind: 'transformers-clip',
    folder: 'clip-vit-base-patch32',
    description: 'OpenAI CLIP ViT-B/32 (transformers.js ONNX export, fp32): 512-d image and text embeddings',
    license: 'MIT (OpenAI CLIP release)',
    repo: 'Xenova/clip-vit-base-patch32',
    dtype: 'fp32',
    files: hubFiles('Xenova/clip-vit-base-patch32', TRANSFORMERS_JS_FILES),
  },
  {
    kind: 'transformers-clip',
    folder: 'siglip-base-patch16-224',
    description: 'Google SigLIP B/16 224 (transformers.js ONNX export, fp32): 768-d image and text embeddings',
    license: 'Apache-2.0',
    repo: 'Xenova/siglip-base-patch16-224',
    dtype: 'fp32',
    files: hubFiles('Xenova/siglip-base-patch16-224', TRANSFORMERS_JS_FILES),
  },
  {
    kind: 'transformers-vlm',
    folder: 'smolvlm-256m-instruct',
    description:
      'SmolVLM-256M-Instruct (transformers.js ONNX export, q8): the smallest local VLM, several images per prompt',
    license: 'Apache-2.0',
    repo: 'HuggingFaceTB/SmolVLM-256M-Instruct',
    dtype: SMOLVLM_DTYPE,
    files: hubFiles('HuggingFaceTB/SmolVLM-256M-Instruct', SMOLVLM_FILES),
  },
  {
    kind: 'transformers-vlm',
    folder: 'smolvlm-500m-instruct',
    description: 'SmolVLM-500M-Instruct (transformers.js ONNX export, q8): the same family, twice the parameters',
    license: 'Apache-2.0',
    repo: 'HuggingFaceTB/SmolVLM-500M-Instruct',
    dtype: SMOLVLM_DTYPE,
    files: hubFiles('HuggingFaceTB/SmolVLM-500M-Instruct', SMOLVLM_FILES),
  },
];

export function catalogEntry(folder: string): CatalogEntry | undefined {
  return catalog.find((e) => e.folder === folder);
}
