/**
 * The first start on a fresh machine: the configured models that NOMEN_MODELS lacks are fetched from the catalog
 * (each file's progress logged, sizes and sha256 checked); when that fails (offline), one line says where to point
 * NOMEN_MODELS instead.
 */
import path from 'node:path';
import { installModels, missingModels } from '../models/install.js';
import type { Config } from './config.js';

/** Where a checkout beside the project's shared folder finds the models (README: set up). */
const SHARED_MODELS = '../shared/models';

/** Undefined once the models are in place; else the one line that says why they are not and what to do. */
export async function fetchMissingModels(
  config: Pick<Config, 'modelsDir' | 'encoder' | 'detector'>,
  log: (line: string) => void,
  fetchFn: typeof globalThis.fetch = globalThis.fetch,
): Promise<string | undefined> {
  const folders = [config.encoder, ...(config.detector ? [config.detector] : [])];
  const missing = await missingModels(config.modelsDir, folders);
  if (missing.length === 0) return undefined;
  log(`${missing.join(', ')} not in ${config.modelsDir}: fetching them from the catalog's sources`);
  try {
    await installModels(missing, { modelsDir: config.modelsDir, log, fetch: fetchFn });
    return undefined;
  } catch (err) {
    const shared = path.resolve(SHARED_MODELS);
    const where = (await missingModels(shared, folders)).length === 0 ? shared : 'a folder that holds them';
    const reason = err instanceof Error ? err.message : String(err);
    return (
      `nomen: set NOMEN_MODELS to ${where}: the models ${missing.join(', ')} are not in ${config.modelsDir} ` +
      `and could not be fetched (${reason})`
    );
  }
}
