/** The eval's data from any folder laid out as ../shared/data: subject sets, distractors, and faces if there are. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadOpenWorld } from '../scripts/lib/open-world.js';

const data = mkdtempSync(path.join(os.tmpdir(), 'nomen-open-world-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));

/** Writes the files (empty unless given text), making their folders. */
function write(...files: (string | [string, string])[]) {
  for (const f of files) {
    const [name, text] = typeof f === 'string' ? [f, ''] : f;
    mkdirSync(path.dirname(path.join(data, name)), { recursive: true });
    writeFileSync(path.join(data, name), text);
  }
}

it('reads every folder with a classes.csv as subjects, splits the distractors by kind, and needs no faces', async () => {
  write(
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
  const names = (files: string[]) => files.map((f) => path.basename(f));
  expect(set.subjects.map((s) => [s.set, s.name, s.category, names(s.train), names(s.query)])).toEqual([
    ['pets', 'rex', 'dog', ['00.jpg', '01.jpg'], ['02.jpg']],
    ['products', 'mug', 'mug', ['a.png', 'b.png'], []],
  ]);
  expect(names(set.bankPhotos)).toEqual(['pets_1.jpg', 'pets_3.jpg', 'shelf_1.jpg']);
  expect(names(set.heldOut)).toEqual(['pets_2.jpg', 'shelf_2.jpg']);
});
