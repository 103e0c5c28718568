/** A runtime on the real models with some DreamBooth subjects registered and refined, for recognition tests. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultLimits } from '../../concepts/intake/intake.js';
import type { Scope } from '../../concepts/types.js';
import { bankFromEnv } from '../../services/config.js';
import { openRuntime, type Runtime } from '../../services/runtime.js';
import { dreamboothDir, modelsDir, objectsDir } from './shared-data.js';

export { dreamboothDir, modelsDir, objectsDir };
export const photo = (subject: string, n: number, dir = dreamboothDir) =>
  readFileSync(path.join(dir, subject, `0${n}.jpg`));

/** The tests' runtime configuration: the shared models, and the run's region bank (NOMEN_BANK_DIR, region-bank.ts). */
export function testConfig(dataUri: string) {
  const bank = bankFromEnv(process.env, modelsDir);
  return { dataUri, modelsDir, encoder: 'mobilenetv2-12-int8', detector: 'yolox-nano', limits: defaultLimits, bank };
}

export function openTestRuntime(dataUri: string): Promise<Runtime> {
  return openRuntime(testConfig(dataUri));
}

/** Registers each [subject, category] from its photos 0-2 and waits for the refinements; the ids by subject. */
export async function registerSubjects(
  runtime: Runtime,
  scope: Scope,
  subjects: [string, string][],
  dir = dreamboothDir,
) {
  const ids: Record<string, string> = {};
  for (const [name, category] of subjects) {
    const images = [0, 1, 2].map((n) => ({ bytes: photo(name, n, dir) }));
    ids[name] = (await runtime.service.register(scope, { name, category, images })).id;
  }
  await runtime.service.refined();
  return ids;
}
