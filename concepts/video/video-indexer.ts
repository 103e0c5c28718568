/**
 * Indexing one video: sampled frames from ffmpeg, the same fixed regions recognition proposes on a photo
 * (whole frame, the coarse grid, optionally detector boxes), one embedding batch per few frames, and the
 * region vectors written in batches of whole frames, so that a job cut short leaves only complete frames.
 * Heads are not involved: any concept, registered before or after, can later be scored on the vectors.
 */
import type { FaceModel } from '../../models/types.js';
import { storedFaces } from '../people/faces.js';
import { readFrames, type FrameOptions, type VideoFrame } from './frames.js';
import type { RegionOptions } from '../recognition/regions.js';
import { embedRegions, type RegionModels } from '../recognition/stored-regions.js';
import type { FrameRegion } from './video-records.js';

export interface IndexModels extends RegionModels {
  /** When faces are on for the video's tenant: the faces of every sampled frame are stored too (person moments). */
  faces?: FaceModel;
}

export interface IndexOptions extends Omit<FrameOptions, 'startS' | 'signal'> {
  regions: RegionOptions;
  /** Crops per embedding call: enough to amortise the call, few enough that requests get the encoder in between. */
  cropsPerEmbed: number;
  /** Frames per write to the store. */
  framesPerWrite: number;
}

export interface IndexRun {
  /** Where to resume: the last frame already stored. */
  after?: { frame: number; t: number };
  signal?: AbortSignal;
  /** The regions of whole frames, and the faces found on them. */
  write(regions: FrameRegion[], faces: FrameRegion[]): Promise<void>;
  /** After each write: frames stored so far and the time reached. */
  progress(frames: number, t: number): void;
  /** Awaited before each embedding batch: where the job gives way to requests. */
  yield(): Promise<void>;
}

/** Indexes the video at `path`; returns the number of frames stored in all. */
export async function indexVideo(
  path: string,
  models: IndexModels,
  options: IndexOptions,
  run: IndexRun,
): Promise<number> {
  let next = run.after ? run.after.frame + 1 : 0;
  // Resuming just past the last stored frame: the next one ffmpeg gives is new.
  const startS = run.after ? run.after.t + 1e-3 : undefined;
  const frames = readFrames(path, { ...options, startS, signal: run.signal });
  let pending: VideoFrame[] = [];
  let pendingCrops = 0;
  let unwritten: FrameRegion[] = [];
  let unwrittenFaces: FrameRegion[] = [];
  let unwrittenFrames = 0;

  const embed = async () => {
    await run.yield();
    const regions = await embedRegions(
      pending.map((f) => f.image),
      models,
      options.regions,
    );
    for (const [i, f] of pending.entries()) {
      const t = Math.round(f.t * 1000) / 1000;
      for (const r of regions[i]) unwritten.push({ frame: next, t, ...r });
      if (models.faces)
        for (const face of await storedFaces(models.faces, f.image)) unwrittenFaces.push({ frame: next, t, ...face });
      next++;
    }
    unwrittenFrames += pending.length;
    pending = [];
    pendingCrops = 0;
  };
  const write = async () => {
    if (unwrittenFrames === 0) return;
    await run.write(unwritten, unwrittenFaces);
    run.progress(next, unwritten.at(-1)!.t);
    unwritten = [];
    unwrittenFaces = [];
    unwrittenFrames = 0;
  };

  // Before detection, a frame has 1 + grid regions; detector boxes may add a few more.
  const fixed = 1 + options.regions.grid.reduce((n, g) => n + g.steps * g.steps, 0);
  for await (const frame of frames) {
    pending.push(frame);
    pendingCrops += fixed;
    if (pendingCrops >= options.cropsPerEmbed) await embed();
    if (unwrittenFrames >= options.framesPerWrite) await write();
  }
  if (pending.length > 0) await embed();
  await write();
  return next;
}
