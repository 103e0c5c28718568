/**
 * Each user's photos scored by every head of the user, kept in memory: a query whose heads did not change since
 * reads no vector. Photos indexed or deleted by this process update the copy. After a retraining the kept scores
 * still answer while one reading in the background scores the new heads; a concept with no kept scores, or a write
 * by another process (a table version this process did not make), sends the query to the stored vectors: for the
 * user that the shared write log names for that version, or for every user where it names none.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { bulk } from '../../models/runtime/priority.js';
import type { LinearAlgebra } from '../../models/types.js';
import { stack } from '../matrix.js';
import { bestRegions } from '../recognition/stored-regions.js';
import { keyOf, type Scope } from '../types.js';
import type { IndexedPhoto, PhotoBatch } from './photo-records.js';
import type { PhotoStore } from './photo-store.js';
import type { WriteLog } from './write-log.js';

/** Heads by concept id; a retrained head comes as a new `weights` array. */
export type Heads = Map<string, { weights: Float32Array; bias: number }>;

/** One head's best region of each photo, by the photo's index: its output (bias not added), box and extent. */
interface HeadScores {
  weights: Float32Array;
  /** The head's bias when it had these weights: scores kept from before a retraining keep their own. */
  bias: number;
  raw: number[];
  /** 4 a photo: [x, y, w, h] in fractions of the photo. */
  boxes: number[];
  /** 4 a photo, as `boxes`: what an answer shows. */
  extents: number[];
}

export interface UserScores {
  /** Photo id to its index in every head's arrays; a deleted photo leaves this map only. */
  photos: Map<string, number>;
  heads: Map<string, HeadScores>;
  /** Indexes given so far, the deleted photos' included: the next photo's. */
  size: number;
}

/** Rough bytes of a kept photo (map entry and id) and of one head's scores of it (9 doubles). */
const PHOTO_BYTES = 120;
const HEAD_BYTES = 72;

/** How long a query waits for the write log before it drops every copy instead. */
const LOG_WAIT_MS = 200;

/** A deleted photo's scores keep their place in the arrays (`size` counts every index given); its map entry goes. */
const bytesOf = (s: UserScores) => s.photos.size * PHOTO_BYTES + s.size * HEAD_BYTES * s.heads.size;

/** Every head's best region of every photo in `batches`, in one pass over them. */
export async function scoreRegions(
  batches: AsyncIterable<PhotoBatch>,
  heads: Heads,
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
    // Copied, box then extent in one array: a view would hold the batch's whole Arrow buffer, vectors included,
    // until every batch is read.
    (batch, i) => [...batch.boxes.subarray(i * 4, i * 4 + 4), ...batch.extents.subarray(i * 4, i * 4 + 4)],
  );
  const scores: UserScores = { photos: new Map(), heads: new Map(), size: 0 };
  const columns = ids.map((id) => {
    const { weights, bias } = heads.get(id)!;
    return { weights, bias, raw: [] as number[], boxes: [] as number[], extents: [] as number[] };
  });
  ids.forEach((id, j) => scores.heads.set(id, columns[j]));
  for (const [photo, regions] of best) {
    scores.photos.set(photo, scores.size++);
    regions.forEach((r, j) => {
      columns[j].raw.push(r.raw);
      const k = r.kept;
      columns[j].boxes.push(k[0], k[1], k[2], k[3]);
      columns[j].extents.push(k[4], k[5], k[6], k[7]);
    });
  }
  return scores;
}

/** Whether `scores` were made by exactly the heads `heads`. */
const scoredBy = (scores: UserScores, heads: Heads) =>
  scores.heads.size === heads.size && [...heads].every(([id, h]) => scores.heads.get(id)?.weights === h.weights);

/** Adds the photos of `added` (scored by the same heads) that `into` lacks. */
function join(into: UserScores, added: UserScores): void {
  for (const [photo, i] of added.photos) {
    // A reading that began before the photos' commit may have read them already.
    if (into.photos.has(photo)) continue;
    into.photos.set(photo, into.size++);
    for (const [id, h] of into.heads) {
      const from = added.heads.get(id)!;
      h.raw.push(from.raw[i]);
      h.boxes.push(...from.boxes.slice(i * 4, i * 4 + 4));
      h.extents.push(...from.extents.slice(i * 4, i * 4 + 4));
    }
  }
}

/** A reading of every region of a user, scored by `heads`. */
interface Reading {
  key: string;
  heads: Heads;
  /** Order of start: a reading that lands makes the earlier ones of its user, of older heads, not kept. */
  order: number;
  /** Its user was deleted, or another process wrote: it answers the queries that wait on it and is not kept. */
  stale: boolean;
  /** The user's photos indexed or deleted while it reads, applied to its scores when they land. */
  changes: ((scores: UserScores) => void)[];
}

/** Photos about to be written, as a reading of them will find them. */
async function* batchOf(photos: IndexedPhoto[], store: PhotoStore): AsyncGenerator<PhotoBatch> {
  const regions = photos.flatMap((p) => p.regions.map((r) => ({ id: p.id, ...r })));
  if (regions.length === 0) return;
  yield {
    photo: regions.map((r) => r.id),
    boxes: Float32Array.from(regions.flatMap((r) => r.box)),
    extents: Float32Array.from(regions.flatMap((r) => store.extentOf(r))),
    vectors: store.asStored(
      stack(
        regions.map((r) => r.vector),
        store.dim,
      ).data,
    ),
    rows: regions.length,
  };
}

export class PhotoScores {
  private readonly users: LRUCache<string, UserScores>;
  /** Table versions written by this process and not yet looked at. */
  private readonly own = new Set<number>();
  private seen?: number;
  private readonly readings = new Map<Reading, Promise<UserScores>>();
  private started = 0;

  constructor(
    private readonly store: PhotoStore,
    private readonly algebra: LinearAlgebra,
    maxBytes: number,
    /** Photos of a user from which kept scores of retrained heads answer while the new ones are read. */
    private readonly staleFrom = 0,
    /** Shared by the processes of one dataset; without it, any version made elsewhere drops every user's copy. */
    private readonly log?: WriteLog,
  ) {
    // Sizes are measured again when a kept user changes (set anew); a user larger than the budget is not kept.
    this.users = new LRUCache({ maxSize: maxBytes, sizeCalculation: (s) => Math.max(1, bytesOf(s)) });
  }

  /**
   * The user's photos scored by the heads of `asked` as they are now (every head of the user is in `heads`), or,
   * while a reading scores the retrained heads, by those of before: kept scores of every asked head answer at once
   * for a user of `staleFrom` photos or more.
   */
  async get(scope: Scope, heads: Heads, asked: string[]): Promise<UserScores> {
    await this.checkVersion();
    const key = keyOf(scope);
    const current = (scored: Map<string, { weights: Float32Array }>) =>
      asked.every((id) => scored.get(id)?.weights === heads.get(id)!.weights);
    const kept = this.users.get(key);
    if (kept && current(kept.heads)) return kept;
    const readings = [...this.readings.keys()].filter((r) => r.key === key && !r.stale);
    if (kept && kept.photos.size >= this.staleFrom && asked.every((id) => kept.heads.has(id))) {
      // One reading at a time per user: heads retrained again meanwhile are read once it has landed. No query
      // waits for it, so its model calls give way to requests'; one that fails leaves the kept scores.
      if (readings.length === 0) bulk(() => this.read(scope, heads)).catch(() => undefined);
      return kept;
    }
    const under = readings.find((r) => current(r.heads));
    return under ? this.readings.get(under)! : this.read(scope, heads);
  }

  /** Once the readings under way (the user's, else all) have landed or failed: a query then gets its own heads. */
  async settled(scope?: Scope): Promise<void> {
    const key = scope && keyOf(scope);
    await Promise.allSettled([...this.readings].filter(([r]) => !key || r.key === key).map(([, scores]) => scores));
  }

  /** Writes photos through `write` (which answers the table version it made), adding them to the user's copies. */
  async add(scope: Scope, photos: IndexedPhoto[], write: () => Promise<number | undefined>): Promise<void> {
    const key = keyOf(scope);
    const { dim } = this.store;
    const kept = this.users.peek(key);
    const targets = [
      ...(kept ? [kept.heads] : []),
      ...[...this.readings.keys()].filter((r) => r.key === key).map((r) => r.heads),
    ];
    // Scored before the write, so that the copy and the table version move together once it is done.
    const added = await Promise.all(
      targets.map((heads) => scoreRegions(batchOf(photos, this.store), heads, dim, this.algebra)),
    );
    const version = await write();
    if (version === undefined) return;
    this.own.add(version);
    this.addTo(key, added);
    await this.publish(version, key);
  }

  /** Photos of `key` scored by each head set (`added`), joined to its copy and to its readings under way. */
  private addTo(key: string, added: UserScores[]): void {
    const scoredFor = (heads: Heads) => added.find((a) => scoredBy(a, heads));
    for (const r of this.readings.keys()) {
      if (r.key !== key) continue;
      const a = scoredFor(r.heads);
      // A reading begun during the write may or may not have read the photos: it is not kept.
      if (a) r.changes.push((scores) => join(scores, a));
      else r.stale = true;
    }
    const now = this.users.peek(key);
    if (!now) return;
    const a = scoredFor(now.heads);
    if (!a) {
      this.users.delete(key);
      return;
    }
    join(now, a);
    this.users.set(key, now);
  }

  /** A photo the user deleted, at the table version the deletion made. */
  async removed(scope: Scope, id: string, version: number): Promise<void> {
    const key = keyOf(scope);
    this.own.add(version);
    const kept = this.users.peek(key);
    if (kept?.photos.delete(id)) this.users.set(key, kept);
    for (const r of this.readings.keys()) if (r.key === key) r.changes.push((scores) => scores.photos.delete(id));
    await this.publish(version, key);
  }

  /**
   * Runs upkeep that rewrites the table's files but no row (a compaction): its versions do not drop the copies here.
   * They are not logged: a version made meanwhile by another process's write cannot be told from them, and the
   * others drop every copy for an unlogged version, which is slower but never stale.
   */
  async upkeep(run: () => Promise<void>): Promise<void> {
    const before = await this.store.version();
    await run();
    const after = await this.store.version();
    const versions = Array.from({ length: after - before }, (_, i) => before + 1 + i);
    const logged = (await this.logged(versions)) ?? [];
    // A version that another process logged meanwhile is its write, not one of the compaction's.
    for (const [i, v] of versions.entries()) if (logged[i] === undefined) this.own.add(v);
  }

  /** The user's library is gone. */
  async forget(scope: Scope, version: number): Promise<void> {
    const key = keyOf(scope);
    this.own.add(version);
    this.dropUser(key);
    await this.publish(version, key);
  }

  /** Tells the other processes whose rows a version of this process changed. */
  private async publish(version: number, key: string): Promise<void> {
    // Unlogged, the version reads as foreign elsewhere and drops every copy there: slower, never wrong.
    await this.log?.record(version, key).catch(() => undefined);
  }

  /** The logged user of each version; undefined when the log fails or answers too late to wait for. */
  private async logged(versions: number[]): Promise<(string | undefined)[] | undefined> {
    if (!this.log || versions.length === 0) return undefined;
    const late = sleep(LOG_WAIT_MS, undefined, { ref: false });
    return Promise.race([this.log.users(versions).catch(() => undefined), late]);
  }

  private dropUser(key: string): void {
    this.users.delete(key);
    for (const r of this.readings.keys()) if (r.key === key) r.stale = true;
  }

  /** Every region of the user scored by every head of `heads`, kept when it lands unless overtaken. */
  private read(scope: Scope, heads: Heads): Promise<UserScores> {
    const reading: Reading = { key: keyOf(scope), heads, order: this.started++, stale: false, changes: [] };
    const scores = this.land(reading, scope);
    this.readings.set(reading, scores);
    return scores;
  }

  private async land(reading: Reading, scope: Scope): Promise<UserScores> {
    try {
      const scores = await scoreRegions(this.store.batches(scope), reading.heads, this.store.dim, this.algebra);
      for (const change of reading.changes) change(scores);
      if (!reading.stale) {
        for (const r of this.readings.keys()) if (r.key === reading.key && r.order < reading.order) r.stale = true;
        this.users.set(reading.key, scores);
      }
      return scores;
    } finally {
      this.readings.delete(reading);
    }
  }

  /**
   * Drops the copies of the users whose rows moved by a version this process did not make: the users the write
   * log names, or every user when it names none for one of those versions.
   */
  private async checkVersion(): Promise<void> {
    const current = await this.store.version();
    const seen = this.seen ?? current;
    const foreign: number[] = [];
    for (let v = seen + 1; v <= current; v++) if (!this.own.has(v)) foreign.push(v);
    const users = await this.logged(foreign);
    // A check that ran meanwhile has dealt with these versions.
    if (this.seen !== undefined && this.seen >= current) return;
    for (const v of this.own) if (v <= current) this.own.delete(v);
    this.seen = current;
    if (foreign.length === 0) return;
    if (users?.every((u) => u !== undefined)) {
      for (const u of users) if (u) this.dropUser(u);
      return;
    }
    for (const r of this.readings.keys()) r.stale = true;
    this.users.clear();
  }
}
