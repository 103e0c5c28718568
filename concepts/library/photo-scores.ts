/**
 * Each user's photos scored by every head of the user, kept in memory: a query whose heads did not change since
 * reads no vector. Photos indexed or deleted by this process update the copy; a retrained head, or a write by
 * another process (a table version this process did not make), sends the next query back to the stored vectors.
 */
import type { LinearAlgebra } from '../../models/types.js';
import { stack } from '../matrix.js';
import { bestRegions } from '../recognition/stored-regions.js';
import type { Scope } from '../types.js';
import type { IndexedPhoto, PhotoBatch } from './photo-records.js';
import type { PhotoStore } from './photo-store.js';

/** Heads by concept id; a retrained head comes as a new `weights` array. */
export type Heads = Map<string, { weights: Float32Array; bias: number }>;

/** One head's best region of each photo, by the photo's index: its output (bias not added) and its box. */
export interface HeadScores {
  weights: Float32Array;
  raw: number[];
  /** 4 a photo: [x, y, w, h] in fractions of the photo. */
  boxes: number[];
}

export interface UserScores {
  /** Photo id to its index in every head's arrays; a deleted photo leaves this map only. */
  photos: Map<string, number>;
  heads: Map<string, HeadScores>;
  /** Indexes given so far, the deleted photos' included: the next photo's. */
  size: number;
}

/** Rough bytes of a kept photo (map entry and id) and of one head's scores of it (5 doubles). */
const PHOTO_BYTES = 120;
const HEAD_BYTES = 40;

const keyOf = (scope: Scope) => `${scope.tenant}\u0000${scope.user}`;
const bytesOf = (s: UserScores) => s.size * (PHOTO_BYTES + HEAD_BYTES * s.heads.size);

/** Every head's best region of every photo in `batches`, in one pass over them. */
export async function scoreRegions(
  batches: AsyncIterable<PhotoBatch>,
  heads: Map<string, { weights: Float32Array }>,
  dim: number,
  algebra: LinearAlgebra,
): Promise<UserScores> {
  const ids = [...heads.keys()];
  const best = await bestRegions(
    batches,
    stack(
      ids.map((id) => heads.get(id)!.weights),
      dim,
    ),
    algebra,
    (batch, i) => batch.photo[i],
    // Copied: a view would hold the batch's whole Arrow buffer, vectors included, until every batch is read.
    (batch, i) => Array.from(batch.boxes.subarray(i * 4, i * 4 + 4)),
  );
  const scores: UserScores = { photos: new Map(), heads: new Map(), size: 0 };
  const columns = ids.map((id) => ({ weights: heads.get(id)!.weights, raw: [] as number[], boxes: [] as number[] }));
  ids.forEach((id, j) => scores.heads.set(id, columns[j]));
  for (const [photo, regions] of best) {
    scores.photos.set(photo, scores.size++);
    regions.forEach((r, j) => {
      columns[j].raw.push(r.raw);
      columns[j].boxes.push(...r.kept);
    });
  }
  return scores;
}

async function* batchOf(photos: IndexedPhoto[], dim: number): AsyncGenerator<PhotoBatch> {
  const regions = photos.flatMap((p) => p.regions.map((r) => ({ id: p.id, ...r })));
  if (regions.length === 0) return;
  yield {
    photo: regions.map((r) => r.id),
    boxes: Float32Array.from(regions.flatMap((r) => r.box)),
    vectors: stack(
      regions.map((r) => r.vector),
      dim,
    ).data,
    rows: regions.length,
  };
}

export class PhotoScores {
  /** Least recently used first. */
  private readonly users = new Map<string, UserScores>();
  private bytes = 0;
  /** Table versions written by this process and not yet looked at. */
  private readonly own = new Set<number>();
  private seen?: number;
  /** Readings under way, shared by the queries that need them: a change of their user makes theirs not kept. */
  private readonly scans = new Set<{ key: string; heads: Heads; stale: boolean; scores: Promise<UserScores> }>();

  constructor(
    private readonly store: PhotoStore,
    private readonly algebra: LinearAlgebra,
    private readonly maxBytes: number,
  ) {}

  /** The user's photos scored by `heads` (every head of the user), at least by those of `asked` as they are now. */
  async get(scope: Scope, heads: Heads, asked: string[]): Promise<UserScores> {
    await this.checkVersion();
    const key = keyOf(scope);
    const current = (scored: Map<string, { weights: Float32Array }>) =>
      asked.every((id) => scored.get(id)?.weights === heads.get(id)!.weights);
    const kept = this.users.get(key);
    if (kept && current(kept.heads)) {
      this.users.delete(key);
      this.users.set(key, kept);
      return kept;
    }
    for (const scan of this.scans) if (scan.key === key && !scan.stale && current(scan.heads)) return scan.scores;
    const scores = scoreRegions(this.store.batches(scope), heads, this.store.dim, this.algebra);
    const scan = { key, heads, stale: false, scores };
    this.scans.add(scan);
    try {
      const done = await scores;
      if (!scan.stale) this.keep(key, done);
      return done;
    } finally {
      this.scans.delete(scan);
    }
  }

  /** Writes photos through `write` (which answers the table version it made), adding them to the user's copy. */
  async add(scope: Scope, photos: IndexedPhoto[], write: () => Promise<number | undefined>): Promise<void> {
    const key = keyOf(scope);
    const before = this.users.get(key);
    // Scored before the write, so that the copy and the table version move together once it is done.
    const added =
      before && (await scoreRegions(batchOf(photos, this.store.dim), before.heads, this.store.dim, this.algebra));
    const version = await write();
    if (version === undefined) return;
    this.changed(key, version);
    const now = this.users.get(key);
    if (!now || !added) return;
    const same = [...now.heads].every(([id, h]) => added.heads.get(id)?.weights === h.weights);
    if (now !== before || !same) return this.drop(key);
    this.bytes -= bytesOf(now);
    for (const [photo, i] of added.photos) {
      now.photos.set(photo, now.size++);
      for (const [id, h] of now.heads) {
        const from = added.heads.get(id)!;
        h.raw.push(from.raw[i]);
        h.boxes.push(...from.boxes.slice(i * 4, i * 4 + 4));
      }
    }
    this.bytes += bytesOf(now);
    this.trim();
  }

  /** A photo the user deleted, at the table version the deletion made. */
  removed(scope: Scope, id: string, version: number): void {
    const key = keyOf(scope);
    this.changed(key, version);
    this.users.get(key)?.photos.delete(id);
  }

  /** The user's library is gone. */
  forget(scope: Scope, version: number): void {
    const key = keyOf(scope);
    this.changed(key, version);
    this.drop(key);
  }

  private changed(key: string, version: number): void {
    this.own.add(version);
    for (const scan of this.scans) if (scan.key === key) scan.stale = true;
  }

  /** Drops every copy when the table moved by a version this process did not make. */
  private async checkVersion(): Promise<void> {
    const current = await this.store.version();
    const seen = this.seen ?? current;
    let foreign = false;
    for (let v = seen + 1; v <= current; v++) if (!this.own.has(v)) foreign = true;
    for (const v of this.own) if (v <= current) this.own.delete(v);
    this.seen = Math.max(current, this.seen ?? current);
    if (!foreign) return;
    for (const scan of this.scans) scan.stale = true;
    this.users.clear();
    this.bytes = 0;
  }

  private keep(key: string, scores: UserScores): void {
    this.drop(key);
    // A user larger than the whole budget would only push every other user out, and itself after them.
    if (bytesOf(scores) > this.maxBytes) return;
    this.users.set(key, scores);
    this.bytes += bytesOf(scores);
    this.trim();
  }

  private drop(key: string): void {
    const kept = this.users.get(key);
    if (!kept) return;
    this.bytes -= bytesOf(kept);
    this.users.delete(key);
  }

  private trim(): void {
    while (this.bytes > this.maxBytes && this.users.size > 0) this.drop(this.users.keys().next().value!);
  }
}
