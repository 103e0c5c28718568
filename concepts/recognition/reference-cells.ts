/**
 * Each concept's reference cells (cell-match.ts): the cells of its stored reference crops, the subject of its example
 * photos. Read when a close call first needs them and kept while the crops stay the same, the least recently used
 * dropped past a byte budget: one never in a close call costs nothing.
 */
import { LRUCache } from 'lru-cache';
import type { Matrix, RegionScanner } from '../../models/types.js';
import { decodeImage } from '../intake/intake.js';
import { concatRows } from '../matrix.js';
import { keyOf, type Scope } from '../types.js';
import type { UserState } from '../user-cache.js';
import { type CellGrid, cellVectors } from './cell-match.js';

interface CropSource {
  readCrop(scope: Scope, conceptId: string, photo: number): Promise<Uint8Array | undefined>;
}

/** What a concept's crops are: written for its example photos at registration, again when its refinement lands. */
export interface CropSet {
  id: string;
  /** Its example photos' numbers, in order (not the regions that corrections added: they have no crop). */
  photos: number[];
  /**
   * Per photo, a value of the views written with its crop: a photo taken back and its number given to a new one
   * reads anew, in every process.
   */
  content: number[];
  /** Photos whose crops are still the draft's (ConceptRecord.draftPhotos). */
  draftPhotos: number;
}

/** Per copy of a user in memory, its concepts' crop sets: its views are read once per copy, not per close call. */
const cropSets = new WeakMap<UserState, Map<string, CropSet>>();

/** The crops of a concept of the user's copy in memory. */
export function cropSet(state: UserState, id: string): CropSet {
  let sets = cropSets.get(state);
  if (!sets) {
    sets = new Map<string, CropSet>();
    for (const c of state.concepts) sets.set(c.id, { id: c.id, photos: [], content: [], draftPhotos: c.draftPhotos });
    const examples = state.views.filter((v) => v.kind === 'positive' && v.variant !== 'correction');
    for (const v of examples.sort((a, b) => a.photo - b.photo)) {
      const set: CropSet | undefined = sets.get(v.conceptId);
      if (!set) continue;
      const last = set.photos.length - 1;
      if (set.photos[last] !== v.photo) {
        set.photos.push(v.photo);
        set.content.push(v.vector[0]);
      } else {
        // The smallest first value of the photo's views: the same whatever order the store reads them in.
        set.content[last] = Math.min(set.content[last], v.vector[0]);
      }
    }
    cropSets.set(state, sets);
  }
  return sets.get(id)!;
}

export interface ReferenceOptions {
  grid: CellGrid;
  /** The first this many example photos are the references: 3 photos of 7 x 7 cells are 750 KB. */
  photos: number;
  /** Kept cells of every user together, in bytes; a concept whose cells alone pass it is read at each close call. */
  maxBytes: number;
}

/** What an entry costs besides its cells, so that concepts without crops are bounded too. */
const ENTRY_BYTES = 1024;

/** Hears of a crop that could not be read or decoded: close calls go without it. */
export type CropReadError = (err: unknown, scope: Scope, conceptId: string) => void;

export class ReferenceCells {
  /** Cells null for a concept without a readable crop. */
  private readonly kept: LRUCache<string, { cells: Matrix | null }>;
  /** Reads under way; `dropped` once their concept or user was forgotten meanwhile. */
  private readonly reading = new Map<string, { cells: Promise<Matrix | null>; dropped: boolean }>();

  constructor(
    private readonly crops: CropSource,
    private readonly scanner: RegionScanner,
    private readonly options: ReferenceOptions,
    private readonly onError?: CropReadError,
  ) {
    this.kept = new LRUCache({ maxSize: options.maxBytes, sizeCalculation: ({ cells }) => sizeOf(cells) });
  }

  /** The concept's reference cells, one matrix for all its references; undefined when it has no readable crop. */
  async of(scope: Scope, set: CropSet): Promise<Matrix | undefined> {
    const photos = set.photos.slice(0, this.options.photos);
    const content = set.content.slice(0, this.options.photos);
    const key = [keyOf(scope, set.id), set.draftPhotos, photos.join(','), content.join(',')].join('\u0000');
    const kept = this.kept.get(key);
    if (kept) return kept.cells ?? undefined;
    let read = this.reading.get(key);
    if (!read) {
      const entry = { dropped: false } as { cells: Promise<Matrix | null>; dropped: boolean };
      entry.cells = this.read(scope, set.id, photos)
        .then(({ cells, failed }) => {
          if (!entry.dropped && !failed) this.kept.set(key, { cells });
          return cells;
        })
        .finally(() => this.reading.delete(key));
      read = entry;
      this.reading.set(key, read);
    }
    return (await read.cells) ?? undefined;
  }

  /** Drops the cells of a deleted concept, or of every concept of a deleted user, also those being read. */
  forget(scope: Scope, conceptId?: string): void {
    const prefix = `${keyOf(scope, conceptId)}\u0000`;
    for (const key of [...this.kept.keys()]) if (key.startsWith(prefix)) this.kept.delete(key);
    for (const [key, read] of this.reading) if (key.startsWith(prefix)) read.dropped = true;
  }

  /**
   * Never throws: a crop that cannot be read or decoded is left out (a recognition is not failed for it). `failed`
   * says that a read failed, which may pass: what the others gave is then not kept, and it is read again at the next
   * close call. A crop that cannot be decoded stays so, and is not read again.
   */
  private async read(scope: Scope, id: string, photos: number[]): Promise<{ cells: Matrix | null; failed: boolean }> {
    let failed = false;
    const tell = (err: unknown) => {
      try {
        this.onError?.(err, scope, id);
      } catch {
        // A listener that fails must not fail the recognition it was told about.
      }
    };
    // The crops side by side, one scan per model thread.
    const each = await Promise.all(
      photos.map(async (photo) => {
        const crop = await this.crops.readCrop(scope, id, photo).catch((err: unknown) => {
          failed = true;
          tell(err);
        });
        if (!crop) return undefined;
        const cells = async () => cellVectors((await decodeImage(crop)).image, this.scanner, this.options.grid);
        return cells().catch((err: unknown) => {
          tell(err);
          return undefined;
        });
      }),
    );
    const found = each.filter((cells) => cells !== undefined);
    return { cells: found.length > 0 ? concatRows(found) : null, failed };
  }
}

const sizeOf = (cells: Matrix | null) => ENTRY_BYTES + (cells?.data.byteLength ?? 0);
