/** The photo files a command line names, each with the library photo id it takes. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { photoIdOf } from '../typescript/client.js';
import { UsageError } from './usage-error.js';

const IMAGE_FILE = /\.(jpe?g|png|webp|gif|bmp|tiff?|avif|heic)$/i;

/** The photo files named: a folder's image files (not its subfolders'), a file as it is; each with its photo id. */
export async function photoFiles(args: string[]): Promise<{ id: string; file: string }[]> {
  const files: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => {
      throw new Error(`no such file or folder: ${arg}`);
    });
    if (!info.isDirectory()) files.push(arg);
    else {
      const entries = await readdir(arg, { withFileTypes: true });
      const images = entries.filter((e) => e.isFile() && IMAGE_FILE.test(e.name)).map((e) => e.name);
      files.push(...images.sort().map((name) => path.join(arg, name)));
    }
  }
  if (files.length === 0) throw new UsageError('photos add found no image files (.jpg, .png, .webp, ...)');
  const byId = new Map<string, string>();
  for (const file of files) {
    const id = photoIdOf(file);
    const other = byId.get(id);
    if (other) throw new UsageError(`${other} and ${file} would both be photo "${id}": rename one`);
    byId.set(id, file);
  }
  return [...byId].map(([id, file]) => ({ id, file }));
}
