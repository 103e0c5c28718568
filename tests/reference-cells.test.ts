/** Concepts' reference cells: read from their crops once per concept version, bounded in memory (real scanner). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import { ReferenceCells, type ReferenceOptions } from '../concepts/recognition/reference-cells.js';
import { dreamboothDir, useMobileNet } from './support/mobilenet.js';

const mobileNet = useMobileNet();
const grid = { n: 4, edge: 0, side: 448 };
const bytesPerPhoto = grid.n ** 2 * 1280 * 4;
const acme = { tenant: 'acme', user: 'u1' };
const other = { tenant: 'acme', user: 'u2' };

/** Crops as the store keeps them (JPEG, at most 384 px), here the DreamBooth photos of the subject the id names. */
function crops() {
  const reads: string[] = [];
  return {
    reads,
    async readCrop(_scope: unknown, id: string, photo: number) {
      reads.push(`${id}/${photo}`);
      const file = path.join(dreamboothDir, id, `${String(photo).padStart(2, '0')}.jpg`);
      return existsSync(file) ? new Uint8Array(await sharp(file).resize(384).jpeg().toBuffer()) : undefined;
    },
  };
}

const open = (source: ReturnType<typeof crops>, options: Partial<ReferenceOptions> = {}) =>
  new ReferenceCells(source, mobileNet().scanner!, { grid, photos: 2, maxBytes: 64 << 20, ...options });

it('reads the first photos of a concept once per version, and says when it has no crop', async () => {
  const source = crops();
  const cells = open(source);
  const can = { id: 'can', version: 1, photos: [0, 1, 2] };
  const [first, again] = await Promise.all([cells.of(acme, can), cells.of(acme, can)]);
  expect(first!.rows).toBe(2 * grid.n ** 2);
  expect(again).toBe(first);
  expect(await cells.of(acme, can)).toBe(first);
  expect(source.reads).toEqual(['can/0', 'can/1']);
  // A new version may have new crops; another user's concept of the same id is its own.
  await cells.of(acme, { ...can, version: 2 });
  await cells.of(other, can);
  expect(source.reads).toHaveLength(6);
  expect(await cells.of(acme, { id: 'no-such-subject', version: 1, photos: [0] })).toBeUndefined();
  // A photo without a crop (a correction's region) is skipped.
  expect((await cells.of(acme, { id: 'teapot', version: 1, photos: [0, 99] }))!.rows).toBe(grid.n ** 2);
});

it('drops the least recently used past its budget, and a deleted concept or user at once', async () => {
  const source = crops();
  const cells = open(source, { photos: 1, maxBytes: 2 * bytesPerPhoto });
  const concept = (id: string) => ({ id, version: 1, photos: [0] });
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
