/** The eval's data from any folder laid out as ../shared/data: subject sets, distractors, and faces if there are. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadOpenWorld } from '../scripts/lib/open-world.js';

const data = mkdtempSync(path.join(os.tmpdir(), 'nomen-open-world-'));
const other = mkdtempSync(path.join(os.tmpdir(), 'nomen-open-world-'));
afterAll(() => {
  for (const dir of [data, other]) rmSync(dir, { recursive: true, force: true });
});

/** Writes the files under `root` (empty unless given text), making their folders. */
function write(root: string, ...files: (string | [string, string])[]) {
  for (const f of files) {
    const [name, text] = typeof f === 'string' ? [f, ''] : f;
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
}
const names = (files: string[]) => files.map((f) => path.basename(f));

it('reads each folder with a classes.csv as subjects, splits distractors by kind, needs no faces', async () => {
  write(
    data,
    ['pets/classes.csv', 'name,category\nrex,dog\n'],
    'pets/rex/00.jpg',
    'pets/rex/01.jpg',
    'pets/rex/02.jpg',
    ['products/classes.csv', 'name,category\nmug,mug\n'],
    'products/mug/a.png',
    'products/mug/b.png',
    'notes/readme.txt',
    'distractors/pets_1.jpg',
    'distractors/pets_2.jpg',
    'distractors/pets_3.jpg',
    'distractors/shelf_1.jpg',
    'distractors/shelf_2.jpg',
  );
  const set = await loadOpenWorld(data, 2, 0);
  expect(set.subjects.map((s) => [s.set, s.name, s.category, names(s.train), names(s.query)])).toEqual([
    ['pets', 'rex', 'dog', ['00.jpg', '01.jpg'], ['02.jpg']],
    ['products', 'mug', 'mug', ['a.png', 'b.png'], []],
  ]);
  expect(names(set.bankPhotos)).toEqual(['pets_1.jpg', 'pets_3.jpg', 'shelf_1.jpg']);
  expect(names(set.heldOut)).toEqual(['pets_2.jpg', 'shelf_2.jpg']);
});

it('alternates distractors named without a kind, and says what a folder lacks', async () => {
  write(
    other,
    ['set/classes.csv', 'name,category\nrex,dog\n'],
    'set/rex/00.webp',
    'distractors/a.jpg',
    'distractors/b.jpg',
  );
  const set = await loadOpenWorld(other, 1, 1);
  expect(names(set.subjects[0].train)).toEqual(['00.webp']);
  expect([names(set.bankPhotos), names(set.heldOut)]).toEqual([['b.jpg'], ['a.jpg']]);
  await expect(loadOpenWorld(path.join(other, 'set'), 1, 0)).rejects.toThrow(/classes.csv.*distractors/);
});
