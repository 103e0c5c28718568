/** Opens what the service runs on: models, the concept store, the concept service. One place, used by the server, the CLI scripts and tests. */
import { Redis } from 'ioredis';
import { ConceptService, type ServiceModels } from '../concepts/service.js';
import { ConceptStore } from '../concepts/store.js';
import { defaultVideoOptions, type JobLog, VideoService } from '../concepts/videos.js';
import { VideoStore } from '../concepts/video-store.js';
import { loadDetector, loadEncoder, loadScanner } from '../models/load.js';
import { OnnxLinearAlgebra } from '../models/linear-algebra.js';
import type { Config } from './config.js';
import type { ModelTimer } from './metrics.js';
import { RedisLock } from './redis-lock.js';
import { timedModels } from './timed-models.js';

export interface Runtime {
  service: ConceptService;
  store: ConceptStore;
  models: ServiceModels;
  videos: VideoService;
  close(): Promise<void>;
}

/** `timer`, when given, times every model call (for metrics); `log` hears of video jobs. */
export async function openRuntime(config: Pick<Config, 'dataUri' | 'objectStorage' | 'redisUrl' | 'modelsDir' | 'encoder' | 'detector' | 'limits' | 'videos'>, timer?: ModelTimer, log?: JobLog): Promise<Runtime> {
  const [encoder, detector, scanner, algebra] = await Promise.all([
    loadEncoder(config.modelsDir, config.encoder),
    config.detector ? loadDetector(config.modelsDir, config.detector) : undefined,
    loadScanner(config.modelsDir, config.encoder),
    OnnxLinearAlgebra.create(),
  ]);
  const store = await ConceptStore.open(config.dataUri, encoder.dim, config.objectStorage);
  const loaded = { encoder, detector, scanner, algebra };
  const models = timer ? timedModels(loaded, timer) : loaded;
  // Several processes on one dataset serialise each user's writes through Redis.
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 3 }) : undefined;
  const service = await ConceptService.create(store, models, { limits: config.limits, lock: redis && new RedisLock(redis) });
  const videoStore = await VideoStore.open(config.dataUri, encoder.dim, config.objectStorage);
  const videos = await VideoService.open(videoStore, service, models, config.videos ?? defaultVideoOptions, log);
  return {
    service,
    store,
    models,
    videos,
    async close() {
      await videos.close();
      await Promise.all([encoder.dispose(), detector?.dispose(), scanner?.dispose(), algebra.dispose()]);
      store.close();
      videoStore.close();
      redis?.disconnect();
    },
  };
}
