/**
 * Each concept's reference cells (cell-match.ts): the cells of its stored reference crops, the subject of its example
 * photos. Read when a close call first needs them and kept per concept version, the least recently used dropped past
 * a byte budget: a concept changed since is read anew, one never in a close call costs nothing.
 */
import type { Matrix, RegionScanner } from '../../models/types.js';
import { decodeImage } from '../intake/intake.js';
import { appendRows } from '../matrix.js';
import type { Scope } from '../types.js';
import { userKey, type UserState } from '../user-cache.js';
import { type CellGrid, cellVectors } from './cell-match.js';

export interface CropSource {
  readCrop(scope: Scope, conceptId: string, photo: number): Promise<Uint8Array | undefined>;
}

/** A concept as its reference cells know it: a new version may have new crops. */
export interface ConceptPhotos {
  id: string;
  version: number;
  /** Its example photos' numbers, in order. */
  photos: number[];
}

/** A concept of the user's copy in memory as its references know it. */
export function conceptPhotos(state: UserState, id: string): ConceptPhotos {
  const { version } = state.concepts.find((c) => c.id === id)!;
  const examples = state.views.filter((v) => v.conceptId === id && v.kind === 'positive').map((v) => v.photo);
  return { id, version, photos: [...new Set(examples)].sort((a, b) => a - b) };
}

export interface ReferenceOptions {
  grid: CellGrid;
  /** The first this many example photos are the references: 3 photos of 7 x 7 cells are 750 KB. */
  photos: number;
  /** Kept cells of every user together, in bytes. */
  maxBytes: number;
}

export class ReferenceCells {
  /** Oldest first; null for a concept without stored crops. */
  private readonly kept = new Map<string, Matrix | null>();
  private readonly reading = new Map<string, Promise<Matrix | null>>();
  private bytes = 0;

  constructor(
    private readonly crops: CropSource,
    private readonly scanner: RegionScanner,
    private readonly options: ReferenceOptions,
  ) {}

  /** The concept's reference cells, one matrix for all its references; undefined when it has no stored crop. */
  async of(scope: Scope, concept: ConceptPhotos): Promise<Matrix | undefined> {
    const key = `${userKey(scope)}\u0000${concept.id}\u0000${concept.version}`;
    const kept = this.kept.get(key);
    if (kept !== undefined) {
      this.kept.delete(key);
      this.kept.set(key, kept);
      return kept ?? undefined;
    }
    let reading = this.reading.get(key);
    if (!reading) {
      reading = this.read(scope, concept)
        .then((cells) => this.keep(key, cells))
        .finally(() => this.reading.delete(key));
      this.reading.set(key, reading);
    }
    return (await reading) ?? undefined;
  }

  /** Drops the kept cells of a deleted concept, or of every concept of a deleted user. */
  forget(scope: Scope, conceptId?: string): void {
    const prefix = `${userKey(scope)}\u0000${conceptId === undefined ? '' : `${conceptId}\u0000`}`;
    for (const key of [...this.kept.keys()]) if (key.startsWith(prefix)) this.drop(key);
  }

  private async read(scope: Scope, concept: ConceptPhotos): Promise<Matrix | null> {
    const photos = concept.photos.slice(0, this.options.photos);
    const crops = await Promise.all(photos.map((photo) => this.crops.readCrop(scope, concept.id, photo)));
    let cells: Matrix | null = null;
    for (const crop of crops) {
      if (!crop) continue;
      const { image } = await decodeImage(crop);
      const more = await cellVectors(image, this.scanner, this.options.grid);
      cells = cells ? appendRows(cells, more) : more;
    }
    return cells;
  }

  private keep(key: string, cells: Matrix | null): Matrix | null {
    this.kept.set(key, cells);
    this.bytes += cells?.data.byteLength ?? 0;
    for (const oldest of this.kept.keys()) {
      if (this.bytes <= this.options.maxBytes || oldest === key) break;
      this.drop(oldest);
    }
    return cells;
  }

  private drop(key: string): void {
    this.bytes -= this.kept.get(key)?.data.byteLength ?? 0;
    this.kept.delete(key);
  }
}
