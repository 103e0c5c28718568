/**
 * The runtime that eval and bench scripts run in-process: a data folder of theirs, models and their choice from the
 * environment.
 */
import { defaultLimits } from '../../concepts/intake/intake.js';
import { bankFromEnv, DEFAULT_DETECTOR, DEFAULT_ENCODER } from '../../services/config.js';
import { openRuntime, type Runtime } from '../../services/runtime.js';
import { defaultModelsDir } from './dreambooth.js';

export function openScriptRuntime(
  dataUri: string,
  extra: Partial<Parameters<typeof openRuntime>[0]> = {},
): Promise<Runtime> {
  const modelsDir = process.env.NOMEN_MODELS ?? defaultModelsDir;
  return openRuntime({
    dataUri,
    modelsDir,
    bank: bankFromEnv(process.env, modelsDir),
    encoder: process.env.NOMEN_ENCODER ?? DEFAULT_ENCODER,
    detector: process.env.NOMEN_DETECTOR ?? DEFAULT_DETECTOR,
    limits: defaultLimits,
    ...extra,
  });
}
