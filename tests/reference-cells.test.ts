/** Concepts' reference cells: read from their crops once while the crops stay the same, bounded (real scanner). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { UserState } from '../concepts/user-cache.js';
import {
  type CropSet,
  cropSet,
  ReferenceCells,
  type CropReadError,
  type ReferenceOptions,
} from '../concepts/recognition/reference-cells.js';
import { encodeJpeg } from '../concepts/intake/intake.js';
import { decodeSharp, dreamboothDir, useMobileNet } from './support/mobilenet.js';

const mobileNet = useMobileNet();
const grid = { n: 4, edge: 0, side: 448 };
const acme = { tenant: 'acme', user: 'u1' };
const other = { tenant: 'acme', user: 'u2' };
const concept = (id: string, photos = [0], draftPhotos = 0, content = photos.map(() => 0)): CropSet => ({
  id,
  photos,
  content,
  draftPhotos,
});

/**
 * Crops as the store keeps them (JPEG, at most 384 px), here the DreamBooth photos of the subject the id names;
 * `broken` answers bytes that are no image, `failing` throws as a blob store that is down would.
 */
function crops() {
  const reads: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  return {
    reads,
    /** Holds every read until the returned function is called. */
    hold() {
      let open = () => {};
      gate = new Promise((resolve) => {
        open = resolve;
      });
      return open;
    },
    async readCrop(_scope: unknown, id: string, photo: number) {
      reads.push(`${id}/${photo}`);
      await gate;
      if (id === 'broken') return new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2]);
      if (id === 'failing') throw new Error('blob store unreachable');
      const file = `${id}/${String(photo).padStart(2, '0')}.jpg`;
      return existsSync(path.join(dreamboothDir, file)) ? encodeJpeg(await decodeSharp(file)) : undefined;
    },
  };
}

const open = (source: ReturnType<typeof crops>, options: Partial<ReferenceOptions> = {}, onError?: CropReadError) =>
  new ReferenceCells(source, mobileNet().scanner!, { grid, photos: 2, maxBytes: 64 << 20, ...options }, onError);

it('reads the first photos of a concept once while its crops stay the same', async () => {
  const source = crops();
  const cells = open(source);
  const can = concept('can', [0, 1, 2]);
  const [first, again] = await Promise.all([cells.of(acme, can), cells.of(acme, can)]);
  expect(first!.rows).toBe(2 * grid.n ** 2);
  expect(again).toBe(first);
  expect(await cells.of(acme, can)).toBe(first);
  expect(source.reads).toEqual(['can/0', 'can/1']);
  // Refined crops, other photos, a new photo under a number taken back, and another user's concept of the same id
  // are read anew.
  await cells.of(acme, concept('can', [0, 1, 2], 3));
  await cells.of(acme, concept('can', [1, 2]));
  await cells.of(acme, concept('can', [0, 1, 2], 0, [0, 0.5, 0]));
  await cells.of(other, can);
  expect(source.reads).toHaveLength(10);
  // A photo without a crop is skipped.
  expect((await cells.of(acme, concept('teapot', [0, 99])))!.rows).toBe(grid.n ** 2);
  expect(await cells.of(acme, concept('no-such-subject'))).toBeUndefined();
});

it('leaves out crops it cannot read or decode, without failing, and reads again what it could not read', async () => {
  const errors: unknown[] = [];
  const source = crops();
  const cells = open(source, {}, (err) => errors.push(err));
  for (let k = 0; k < 2; k++) {
    expect(await cells.of(acme, concept('broken'))).toBeUndefined();
    expect(await cells.of(acme, concept('failing'))).toBeUndefined();
  }
  expect(errors).toHaveLength(3);
  expect(String(errors[1])).toMatch(/blob store unreachable/);
  // A store that failed may answer next time; a crop that is no image stays so.
  expect(source.reads.filter((r) => r === 'failing/0')).toHaveLength(2);
  expect(source.reads.filter((r) => r === 'broken/0')).toHaveLength(1);
  // A listener that throws changes nothing for the recognition.
  const throwing = open(crops(), {}, () => {
    throw new Error('logger down');
  });
  expect(await throwing.of(acme, concept('broken'))).toBeUndefined();
});

it("takes a concept's example photos as its crops, not the regions that corrections added", () => {
  const view = (conceptId: string, photo: number, kind: string, variant: string, first = 0.5) => ({
    conceptId,
    photo,
    kind,
    variant,
    vector: Float32Array.of(first, 1),
  });
  const state = {
    concepts: [{ id: 'dog', draftPhotos: 2 }],
    views: [
      view('dog', 2, 'positive', 'subject'),
      view('dog', 0, 'positive', 'whole'),
      view('dog', 0, 'positive', 'subject-flip', -0.25),
      view('dog', 1, 'negative', 'whole'),
      view('dog', 3, 'positive', 'correction'),
      view('cat', 4, 'positive', 'whole'),
    ],
  } as unknown as UserState;
  expect(cropSet(state, 'dog')).toEqual({ id: 'dog', photos: [0, 2], content: [-0.25, 0.5], draftPhotos: 2 });
  expect(cropSet(state, 'dog')).toBe(cropSet(state, 'dog'));
});

it('drops the least recently used past its budget, and a deleted concept or user at once', async () => {
  const source = crops();
  const cells = open(source, { photos: 1, maxBytes: 2 * (grid.n ** 2 * mobileNet().dim * 4 + 1024) });
  for (const id of ['can', 'candle', 'can', 'teapot']) await cells.of(acme, concept(id));
  expect(source.reads).toEqual(['can/0', 'candle/0', 'teapot/0']);
  // candle was the least recently used of the three: the budget holds two.
  await cells.of(acme, concept('can'));
  await cells.of(acme, concept('candle'));
  expect(source.reads.slice(3)).toEqual(['candle/0']);

  await cells.of(other, concept('can'));
  cells.forget(acme, 'candle');
  await cells.of(acme, concept('candle'));
  expect(source.reads.slice(4)).toEqual(['can/0', 'candle/0']);
  cells.forget(other);
  await cells.of(other, concept('can'));
  expect(source.reads.slice(6)).toEqual(['can/0']);
});

it('keeps nothing of a concept forgotten while its crops were being read', async () => {
  const source = crops();
  const cells = open(source);
  const release = source.hold();
  const reading = cells.of(acme, concept('can'));
  cells.forget(acme, 'can');
  release();
  expect((await reading)!.rows).toBe(grid.n ** 2);
  await cells.of(acme, concept('can'));
  expect(source.reads).toEqual(['can/0', 'can/0']);
});

it('bounds concepts without crops too', async () => {
  const source = crops();
  const cells = open(source, { maxBytes: 10 * 1024 });
  for (let k = 0; k < 20; k++) await cells.of(acme, concept(`none-${k}`));
  await cells.of(acme, concept('none-0'));
  expect(source.reads.filter((r) => r === 'none-0/0')).toHaveLength(2);
  await cells.of(acme, concept('none-19'));
  expect(source.reads.filter((r) => r === 'none-19/0')).toHaveLength(1);
});
