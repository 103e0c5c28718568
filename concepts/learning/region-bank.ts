/**
 * The region bank: regions of ordinary photos, embedded by the active encoder, in which no concept of any user
 * appears. It tells each head what the open world scores: hard negatives for training come from one half of
 * its photos, and each threshold is set above what the other half reaches, photo by photo.
 */
import { iou } from '../../models/image/boxes.js';
import type { Crop, DecodedImage, LinearAlgebra, Matrix } from '../../models/types.js';
import type { Head } from './heads.js';
import { dot, matrixRow, stack } from '../matrix.js';
import { defaultRegionOptions, gridWindows, proposeRegions, type RegionOptions } from '../recognition/regions.js';
import type { ExampleModels } from './examples.js';

export interface RegionBank {
  /** Unit vectors of every region, photo after photo. */
  vectors: Matrix;
  /** Each region's photo, 0..photos-1. */
  photo: Int32Array;
  /**
   * 1 for the small windows that recognition embeds only when its scanner picks them (their outputs carry its penalty),
   * 2 for those under BANK_WINDOWS.negative: they calibrate, and are left out of the training negatives.
   */
  scanned: Uint8Array;
  photos: number;
}

/**
 * Which of recognition's scan windows the bank embeds for every photo (fractions of each side): down to `smallest`,
 * about the size of the windows a second look embeds inside a small region, so that calibration sees what they reach;
 * those under `negative` only calibrate: as training negatives they add no measured accuracy, only memory.
 */
export const BANK_WINDOWS = { smallest: 0.3, negative: 0.4 };

/** One photo's regions as recognition proposes them, plus the scan grid's larger windows, embedded. */
export async function embedBankPhoto(
  image: DecodedImage,
  models: ExampleModels,
  options: RegionOptions = defaultRegionOptions,
) {
  const proposed = (await proposeRegions(image, models.detector, options)).map((r) => r.box);
  const windows = options.scanGrid
    .filter((g) => g.size >= BANK_WINDOWS.smallest)
    .flatMap((g) =>
      gridWindows(image, [g])
        .filter((box) => !proposed.some((p) => iou(p, box) > 0.9))
        .map((box) => ({ box, kind: g.size < BANK_WINDOWS.negative ? 2 : 1 })),
    );
  const vectors = await models.encoder.embed(
    [...proposed, ...windows.map((w) => w.box)].map((box): Crop => ({ image, box })),
  );
  return { vectors, scanned: [...proposed.map(() => 0), ...windows.map((w) => w.kind)] };
}

/** Joins embedded photos into a bank. */
export function joinBank(photos: { vectors: Float32Array[]; scanned: number[] }[], dim: number): RegionBank {
  const rows = photos.flatMap((p) => p.vectors);
  return {
    vectors: stack(rows, dim),
    photo: Int32Array.from(photos.flatMap((p, i) => p.vectors.map(() => i))),
    scanned: Uint8Array.from(photos.flatMap((p) => p.scanned)),
    photos: photos.length,
  };
}

/** The bank's rows of the photos that `keep` selects. */
function rowsOf(bank: RegionBank, keep: (photo: number) => boolean): number[] {
  const rows: number[] = [];
  for (let r = 0; r < bank.photo.length; r++) if (keep(bank.photo[r])) rows.push(r);
  return rows;
}

/** The bank's regions of the photos that `keep` selects, renumbered. */
function subset(bank: RegionBank, keep: (photo: number) => boolean): RegionBank {
  const rows = rowsOf(bank, keep);
  const renumber = new Map<number, number>();
  for (const r of rows) if (!renumber.has(bank.photo[r])) renumber.set(bank.photo[r], renumber.size);
  return {
    vectors: stack(
      rows.map((r) => matrixRow(bank.vectors, r)),
      bank.vectors.cols,
    ),
    photo: Int32Array.from(rows, (r) => renumber.get(bank.photo[r])!),
    scanned: Uint8Array.from(rows, (r) => bank.scanned[r]),
    photos: renumber.size,
  };
}

/**
 * Even photos give training negatives (views on the bank's rows, copied once by whoever stacks them), odd ones
 * calibrate: a threshold is only honest on photos its head has not been trained against.
 */
export function splitBank(bank: RegionBank): { negatives: Float32Array[]; calibration: RegionBank } {
  return {
    negatives: rowsOf(bank, (p) => p % 2 === 0)
      .filter((r) => bank.scanned[r] < 2)
      .map((r) => matrixRow(bank.vectors, r)),
    calibration: subset(bank, (p) => p % 2 === 1),
  };
}

/** Heads at and below which the bank is scored here: a model call would first copy the bank to its thread. */
const IN_PROCESS_HEADS = 4;

/** Bank rows per model call (2.6 MB at 1280 dimensions). */
const CALL_ROWS = 512;

/** Each head's best raw output on each calibration photo (heads × photos), as recognition would take it. */
export async function bankPhotoMaxima(
  heads: Head[],
  bank: RegionBank,
  algebra: LinearAlgebra,
  scanPenalty: number,
): Promise<Float64Array[]> {
  if (heads.length === 0 || bank.photos === 0) return heads.map(() => new Float64Array(0));
  const d = bank.vectors.cols;
  const rows = bank.photo.length;
  let out: Float32Array;
  if (heads.length <= IN_PROCESS_HEADS) {
    out = new Float32Array(rows * heads.length);
    for (let r = 0; r < rows; r++) {
      const v = matrixRow(bank.vectors, r);
      heads.forEach((h, j) => {
        out[r * heads.length + j] = dot(v, h.weights);
      });
    }
  } else {
    const weights = stack(
      heads.map((h) => h.weights),
      d,
    );
    out = new Float32Array(rows * heads.length);
    // In slices of the bank: a call copies its operands to the model's thread, and the whole bank is ~15 MB.
    for (let r0 = 0; r0 < rows; r0 += CALL_ROWS) {
      const n = Math.min(CALL_ROWS, rows - r0);
      const slice = { data: bank.vectors.data.slice(r0 * d, (r0 + n) * d), rows: n, cols: d };
      out.set((await algebra.mulTransposed(slice, weights)).data, r0 * heads.length);
    }
  }
  return heads.map((h, j) => {
    const best = new Float64Array(bank.photos).fill(-Infinity);
    for (let r = 0; r < rows; r++) {
      const v = out[r * heads.length + j] + h.bias - (bank.scanned[r] ? scanPenalty : 0);
      if (v > best[bank.photo[r]]) best[bank.photo[r]] = v;
    }
    return best;
  });
}
