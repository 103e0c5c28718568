/** Locating a model's files under NOMEN_MODELS, with errors that say exactly what is missing. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Absolute path of `file` inside the model folder; throws naming the missing folder or file. */
export function modelFile(modelsDir: string, folder: string, file: string): string {
  const dir = path.resolve(modelsDir, folder);
  if (!fs.existsSync(dir)) throw new Error(`model folder not found: ${dir} (is NOMEN_MODELS right?)`);
  const p = path.join(dir, file);
  if (!fs.existsSync(p)) throw new Error(`model file not found: ${p}`);
  return p;
}

/** A JSON array of class names, index = class id. */
export async function readLabels(file: string, expected?: number): Promise<string[]> {
  const labels: unknown = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) {
    throw new Error(`labels file is not a JSON array of strings: ${file}`);
  }
  if (expected !== undefined && labels.length !== expected) {
    throw new Error(`labels file ${file} has ${labels.length} names, the model has ${expected} classes`);
  }
  return labels;
}

/** A short digest of every file in a model folder (names and bytes): what a cache built with the model is keyed by. */
export async function folderFingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  const names = files.map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
  for (const name of names) {
    hash.update(`${name}\0`);
    hash.update(await fs.promises.readFile(path.join(dir, name)));
  }
  return hash.digest('hex').slice(0, 16);
}
