/** Locating a model's files under NOMEN_MODELS, with errors that say exactly what is missing. */
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
