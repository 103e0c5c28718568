/** A decoded image: interleaved 8-bit RGB, row-major, 3 bytes per pixel. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A rectangle in pixels of a DecodedImage. */
export interface PixelBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One input of a batched embedding call: a region of an image (whole image when box is absent). */
/**
 * A region shown at 1/factor of its frame, at (x, y) fractions of the free space, on its mean colour
 * (models/image/zoom.ts).
 */
export interface Zoom {
  factor: number;
  x: number;
  y: number;
}

export interface Crop {
  image: DecodedImage;
  box?: PixelBox;
  flip?: boolean;
  zoom?: Zoom;
}

/** Turns image regions into L2-normalised vectors of `dim` floats. */
export interface ImageEncoder {
  readonly name: string;
  readonly dim: number;
  embed(crops: Crop[]): Promise<Float32Array[]>;
  /** Generic negative vectors that need no photos (e.g. ImageNet class vectors), L2-normalised. */
  negativeBank(): Promise<Float32Array[]>;
  /** Cheap approximate vectors for many windows, when the model offers them; it lives and goes with the encoder. */
  readonly scanner?: RegionScanner;
  dispose(): Promise<void>;
}

export interface Detection {
  box: PixelBox;
  label: string;
  score: number;
}

/** Proposes object regions (with category labels) in an image. */
export interface ObjectDetector {
  readonly name: string;
  detect(image: DecodedImage, options?: { minScore?: number; maxDetections?: number }): Promise<Detection[]>;
  dispose(): Promise<void>;
}

/** Turns text into vectors in the same space as an ImageEncoder (CLIP, SigLIP). */
export interface TextEncoder {
  embedText(texts: string[]): Promise<Float32Array[]>;
}

/** A row-major float matrix. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** The dense algebra of head training and scoring. */
export interface LinearAlgebra {
  /** `a · bᵀ`: every row of a against every row of b. */
  mulTransposed(a: Matrix, b: Matrix): Promise<Matrix>;
  /** The inverses of square matrices, of any sizes, in one call. */
  inverse(matrices: Matrix[]): Promise<Matrix[]>;
  /** Float16 values, given as their bits (Node 20 has no Float16Array), as float32: vectors stored compactly. */
  fromHalves(bits: Uint16Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Cheap approximate vectors for many windows of one photo (one forward pass): for ranking candidate regions, not for
 * decisions.
 */
export interface RegionScanner {
  /** One L2-normalised row per box; `side`: the photo's long side as the network sees it, if not the scanner's own. */
  scan(image: DecodedImage, boxes: PixelBox[], side?: number): Promise<Matrix>;
}

/** One part of a chat message's content, in the OpenAI chat-completions shape; images travel as data URLs. */
export type ChatPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: string } };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatPart[];
}

export interface ChatOptions {
  /** Aborts the call: the caller went away. */
  signal?: AbortSignal;
  maxTokens?: number;
  temperature?: number;
  /** Further chat-completions parameters passed through unchanged (the chat proxy's `top_p`, `stop`, ...). */
  extra?: Record<string, unknown>;
}

export interface ChatAnswer {
  text: string;
  /** The model that answered, as the server names it. */
  model: string;
  /** Why the answer ended, as OpenAI says it: `stop`, `length` (cut at maxTokens), ... */
  finishReason: string;
}

export interface ModelHealth {
  ok: boolean;
  /** What is wrong, or what is serving. */
  detail: string;
}

/**
 * A multimodal chat model (VLM): an OpenAI-compatible server or a local one. Every failure is a
 * `ModelError` (models/runtime/model-error.ts), except an abort through `signal`, which rethrows the abort.
 */
export interface VisionLanguageModel {
  readonly name: string;
  chat(messages: ChatMessage[], options?: ChatOptions): Promise<ChatAnswer>;
  /**
   * The answer as it is generated, piece by piece, returning its finish reason when the model gives one;
   * failures before the first piece throw from the first `next()`.
   */
  stream(messages: ChatMessage[], options?: ChatOptions): AsyncGenerator<string, string | void, undefined>;
  health(): Promise<ModelHealth>;
  dispose(): Promise<void>;
}

/** A face found in an image: its box, the detector's confidence and 5 landmarks (eyes, nose, mouth corners). */
export interface Face {
  box: PixelBox;
  score: number;
  landmarks: [number, number][];
}

/** Finds faces and turns each into an L2-normalised identity vector of `dim` floats (models/faces/). */
export interface FaceModel {
  /** Names the detector and the embedding together: vectors and thresholds belong to this pair. */
  readonly name: string;
  readonly dim: number;
  /** Faces best first. */
  detect(image: DecodedImage): Promise<Face[]>;
  embed(image: DecodedImage, faces: Face[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
