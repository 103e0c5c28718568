/**
 * Builds the region bank of the configured encoder and detector (NOMEN_MODELS, NOMEN_ENCODER, NOMEN_DETECTOR) from
 * folders of ordinary photos, into NOMEN_BANK_DIR: what the service otherwise builds at its first start.
 * Usage: npm run bank [-- DIR ...]   (default: NOMEN_BANK_PHOTOS, else the shared distractors beside the models)
 */
import { parseArgs } from 'node:util';
import { bankFile, bankIdentity, openBank } from '../concepts/learning/region-bank-file.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { openDetector, openEncoder } from '../models/load.js';
import { ModelThreads } from '../models/runtime/ort.js';
import { loadConfig } from '../services/config.js';

const { positionals } = parseArgs({ allowPositionals: true });
const config = loadConfig(process.env, () => '');
const source = { ...config.bank, photos: positionals.length > 0 ? positionals : config.bank.photos };
const threads = new ModelThreads();
const algebra = await OnnxLinearAlgebra.open(threads);
const [encoder, detector] = await Promise.all([
  openEncoder(threads, config.modelsDir, config.encoder, algebra),
  config.detector ? openDetector(threads, config.modelsDir, config.detector) : undefined,
]);
try {
  const identity = await bankIdentity(config.modelsDir, config.encoder, config.detector);
  const started = performance.now();
  const bank = await openBank(source, identity, { encoder, detector }, (m) => console.log(m), true);
  console.log(
    `${bankFile(source.dir, identity)}: ${bank.vectors.rows} regions of ${bank.photos} photos in ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
} catch (e) {
  console.error(`npm run bank: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  await Promise.all([encoder.dispose(), detector?.dispose(), algebra.dispose()]);
}
