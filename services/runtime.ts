/** Opens what the service runs on: models, the concept store, the concept service. One place, used by the server, the CLI scripts and tests. */
import { ConceptService, type ServiceModels } from '../concepts/service.js';
import { ConceptStore } from '../concepts/store.js';
import { loadDetector, loadEncoder, loadScanner } from '../models/load.js';
import { OnnxLinearAlgebra } from '../models/linear-algebra.js';
import type { Config } from './config.js';
import type { ModelTimer } from './metrics.js';
import { timedModels } from './timed-models.js';

export interface Runtime {
  service: ConceptService;
  store: ConceptStore;
  models: ServiceModels;
  close(): Promise<void>;
}

/** `timer`, when given, times every model call (for metrics). */
export async function openRuntime(config: Pick<Config, 'dataUri' | 'objectStorage' | 'modelsDir' | 'encoder' | 'detector' | 'limits'>, timer?: ModelTimer): Promise<Runtime> {
  const [encoder, detector, scanner, algebra] = await Promise.all([
    loadEncoder(config.modelsDir, config.encoder),
    config.detector ? loadDetector(config.modelsDir, config.detector) : undefined,
    loadScanner(config.modelsDir, config.encoder),
    OnnxLinearAlgebra.create(),
  ]);
  const store = await ConceptStore.open(config.dataUri, encoder.dim, config.objectStorage);
  const loaded = { encoder, detector, scanner, algebra };
  const models = timer ? timedModels(loaded, timer) : loaded;
  const service = await ConceptService.create(store, models, { limits: config.limits });
  return {
    service,
    store,
    models,
    async close() {
      await Promise.all([encoder.dispose(), detector?.dispose(), scanner?.dispose(), algebra.dispose()]);
      store.close();
    },
  };
}
