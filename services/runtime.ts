/** Opens what the service runs on: models, the concept store, the concept service. One place, used by the server, the CLI scripts and tests. */
import { ConceptService, type ServiceModels } from '../concepts/service.js';
import { ConceptStore } from '../concepts/store.js';
import { loadDetector, loadEncoder } from '../models/load.js';
import { OnnxMatMul } from '../models/matmul.js';
import type { Config } from './config.js';

export interface Runtime {
  service: ConceptService;
  store: ConceptStore;
  models: ServiceModels;
  close(): Promise<void>;
}

export async function openRuntime(config: Pick<Config, 'dataUri' | 'modelsDir' | 'encoder' | 'detector' | 'limits'>): Promise<Runtime> {
  const [encoder, detector, matmul] = await Promise.all([
    loadEncoder(config.modelsDir, config.encoder),
    config.detector ? loadDetector(config.modelsDir, config.detector) : undefined,
    OnnxMatMul.create(),
  ]);
  const store = await ConceptStore.open(config.dataUri, encoder.dim);
  const models = { encoder, detector, matmul };
  const service = await ConceptService.create(store, models, { limits: config.limits });
  return {
    service,
    store,
    models,
    async close() {
      await Promise.all([encoder.dispose(), detector?.dispose()]);
      store.close();
    },
  };
}
