/**
 * Installs the catalog's models into NOMEN_MODELS (default ./models, where the service looks),
 * checked against their sha256.
 *
 *   npm run fetch-models -- [--from DIR] [FOLDER...]
 *
 * --from DIR copies from a folder laid out like NOMEN_MODELS instead of downloading (offline installs).
 * Exits 1 with the reason on a bad argument, a checksum mismatch, a failed download or a missing source file.
 */
import { parseArgs } from 'node:util';
import { InstallError, installModels } from '../models/install.js';

const modelsDir = process.env.NOMEN_MODELS || './models';

try {
  const { values, positionals } = parseArgs({ options: { from: { type: 'string' } }, allowPositionals: true });
  await installModels(positionals, { modelsDir, from: values.from, log: (line) => console.log(line) });
  console.log(`models installed in ${modelsDir}`);
} catch (e) {
  const badArgs = (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (!(e instanceof InstallError) && !badArgs) throw e;
  console.error(`fetch-models: ${(e as Error).message}`);
  process.exit(1);
}
