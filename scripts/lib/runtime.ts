/**
 * The runtime that eval and bench scripts run in-process: a data folder of theirs, models and their choice from the
 * environment.
 */
import { defaultLimits } from '../../concepts/intake/intake.js';
import { bankFromEnv, DEFAULT_DETECTOR, DEFAULT_ENCODER } from '../../services/config.js';
import { openRuntime, type Runtime } from '../../services/runtime.js';
import { defaultModelsDir } from './dreambooth.js';

/** The models folder, encoder and detector of the environment (NOMEN_MODELS, ...), else the shared defaults. */
export function scriptModels(): { modelsDir: string; encoder: string; detector: string } {
  return {
    modelsDir: process.env.NOMEN_MODELS ?? defaultModelsDir,
    encoder: process.env.NOMEN_ENCODER ?? DEFAULT_ENCODER,
    detector: process.env.NOMEN_DETECTOR ?? DEFAULT_DETECTOR,
  };
}

export function openScriptRuntime(
  dataUri: string,
  extra: Partial<Parameters<typeof openRuntime>[0]> = {},
): Promise<Runtime> {
  const models = scriptModels();
  return openRuntime({
    dataUri,
    ...models,
    bank: bankFromEnv(process.env, models.modelsDir),
    limits: defaultLimits,
    ...extra,
  });
}
