/**
 * A runtime on a fresh data folder, configured from the environment as the server is, with an API key for each of two
 * tenants.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../services/config.js';
import { openRuntime, type Runtime } from '../../services/runtime.js';
import { dreamboothDir, modelsDir } from './shared-data.js';

export const PHOTOS = dreamboothDir;
export const KEY_A = 'key-a-0123456789';
export const KEY_B = 'key-b-9876543210';

export interface TwoTenants {
  config: Config;
  runtime: Runtime;
  close(): Promise<void>;
}

/** `env` adds to or overrides the settings (e.g. rate limits off). */
export async function openTwoTenants(name: string, env: Record<string, string> = {}): Promise<TwoTenants> {
  const dataDir = await mkdtemp(join(tmpdir(), `nomen-${name}-`));
  const config = loadConfig(
    {
      NOMEN_DATA: dataDir,
      NOMEN_MODELS: modelsDir,
      NOMEN_API_KEYS: `${KEY_A}:tenant-a,${KEY_B}:tenant-b`,
      NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
      ...env,
    },
    () => '',
  );
  const runtime = await openRuntime(config);
  return {
    config,
    runtime,
    async close() {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
