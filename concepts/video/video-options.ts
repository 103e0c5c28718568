/** What the video service accepts and how it indexes: upload limits, frame rates, regions, moments. */
import { defaultRegionOptions } from '../recognition/regions.js';
import { defaultMomentOptions, type MomentOptions } from './moments.js';
import type { IndexOptions } from './video-indexer.js';

export interface VideoOptions {
  /** Largest upload accepted, in bytes. */
  maxBytes: number;
  maxDurationS: number;
  /** Frames sampled per second unless an upload asks for another rate, and the most it may ask for. */
  fps: number;
  maxFps: number;
  /** Indexing jobs running at once. */
  concurrency: number;
  /** Whether detector boxes join each frame's fixed regions. */
  detector: boolean;
  index: Omit<IndexOptions, 'fps'>;
  moments: MomentOptions;
}

export const defaultVideoOptions: VideoOptions = {
  maxBytes: 2 * 1024 ** 3,
  maxDurationS: 3 * 3600,
  fps: 2,
  maxFps: 10,
  concurrency: 1,
  detector: false,
  index: {
    // The encoder sees 224 px crops; 512 px frames leave the 0.75 grid windows above that.
    maxSide: 512,
    sceneThreshold: 0.2,
    regions: defaultRegionOptions,
    cropsPerEmbed: 16,
    framesPerWrite: 64,
  },
  moments: defaultMomentOptions,
};
