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
export interface Crop {
  image: DecodedImage;
  box?: PixelBox;
  flip?: boolean;
}

/** Turns image regions into L2-normalised vectors of `dim` floats. */
export interface ImageEncoder {
  readonly name: string;
  readonly dim: number;
  embed(crops: Crop[]): Promise<Float32Array[]>;
  /** Generic negative vectors that need no photos (e.g. ImageNet class vectors), L2-normalised. */
  negativeBank(): Promise<Float32Array[]>;
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
  inverse(a: Matrix): Promise<Matrix>;
  dispose(): Promise<void>;
}

/** Cheap approximate vectors for many windows of one photo (one forward pass): for ranking candidate regions, not for decisions. */
export interface RegionScanner {
  scan(image: DecodedImage, boxes: PixelBox[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
