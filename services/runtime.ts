/**
 * Opens what the service runs on: models, the concept store, the concept service. One place, used by the server, the
 * CLI scripts and tests.
 */
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { Describer } from '../concepts/captioning/describe.js';
import { Personalizer } from '../concepts/captioning/personalize.js';
import { ConceptService } from '../concepts/service.js';
import type { ServiceModels, ServiceOptions } from '../concepts/service-options.js';
import { ConceptStore } from '../concepts/storage/store.js';
import { faceVectorSize, openPeople } from '../concepts/people/open-people.js';
import type { People } from '../concepts/people/people.js';
import { defaultLibraryOptions, PhotoLibrary } from '../concepts/library/library.js';
import { PhotoStore } from '../concepts/library/photo-store.js';
import { bankIdentity, openBank, type BankSource } from '../concepts/learning/region-bank-file.js';
import type { JobLog } from '../concepts/video/video-jobs.js';
import { defaultVideoOptions } from '../concepts/video/video-options.js';
import { VideoService } from '../concepts/video/videos.js';
import { VideoStore } from '../concepts/video/video-store.js';
import { openDetector, openEncoder, openVlm } from '../models/load.js';
import { OnnxLinearAlgebra } from '../models/runtime/linear-algebra.js';
import { ModelThreads } from '../models/runtime/ort.js';
import type { VisionLanguageModel } from '../models/types.js';
import { NoVlm } from '../models/vlm/vlm-none.js';
import { type Config, type FaceConfig, vlmFromEnv } from './config.js';
import { BullQueue, PHOTO_QUEUE } from './bull-queue.js';
import type { ModelTimer } from './metrics.js';
import { RedisLock } from './redis-lock.js';
import { RedisWriteLog } from './redis-write-log.js';
import { timedModels, timedVlm } from './timed-models.js';

export interface Runtime {
  service: ConceptService;
  store: ConceptStore;
  models: ServiceModels;
  /** The threads the models run in ('ok' or why not, for /readyz). */
  threads: ModelThreads;
  videos: VideoService;
  library: PhotoLibrary;
  vlm: VisionLanguageModel;
  /** What the API processes of one dataset share (REDIS_URL); absent for a single process. */
  redis?: Redis;
  personal: Personalizer;
  /** Person concepts' face vectors, and the face model when faces are on. */
  people: People;
  close(): Promise<void>;
}

/**
 * `timer`, when given, times every model call (for metrics); `log` hears of video jobs and failed refinements.
 * `refineQuietMs` holds registrations' refinements back longer (tests that look at drafts); `refine: false` keeps
 * concepts as drafts (an evaluation of the drafts alone).
 */
export async function openRuntime(
  config: Pick<
    Config,
    | 'dataUri'
    | 'objectStorage'
    | 'redisUrl'
    | 'modelsDir'
    | 'encoder'
    | 'detector'
    | 'limits'
    | 'videos'
    | 'photoJobs'
    | 'vlm'
  > &
    Pick<ServiceOptions, 'refineQuietMs' | 'refine'> & { bank: BankSource; faces?: FaceConfig },
  timer?: ModelTimer,
  log?: JobLog,
): Promise<Runtime> {
  // libvips caches recent operations for reuse, which never comes here (every photo is new): up to 50 MB for nothing.
  sharp.cache(false);
  const threads = new ModelThreads();
  const algebra = await OnnxLinearAlgebra.open(threads);
  const [encoder, detector] = await Promise.all([
    openEncoder(threads, config.modelsDir, config.encoder, algebra),
    config.detector ? openDetector(threads, config.modelsDir, config.detector) : undefined,
  ]);
  // Built once per encoder from ordinary photos, then read from its file: the open world each threshold is held to.
  const identity = await bankIdentity(config.modelsDir, config.encoder, config.detector);
  const regionBank = await openBank(config.bank, identity, { encoder, detector }, (m) => log?.info({}, m));
  const store = await ConceptStore.open(config.dataUri, encoder.dim, config.objectStorage);
  const people = await openPeople(config, threads, (m) => log?.info({}, m));
  const loaded = { encoder, detector, algebra };
  const models = timer ? timedModels(loaded, timer) : loaded;
  // Several processes on one dataset serialise each user's writes through Redis.
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { maxRetriesPerRequest: 3, commandTimeout: 5000 })
    : undefined;
  // Reconnecting is ioredis's own; failed commands (and /readyz) say what went wrong.
  redis?.on('error', () => undefined);
  const service = await ConceptService.open(
    store,
    models,
    {
      limits: config.limits,
      lock: redis && new RedisLock(redis),
      refineQuietMs: config.refineQuietMs,
      refine: config.refine,
      people,
      onRefineError: (err, concept) =>
        log?.error(
          { err, concept: concept.id },
          'concept refinement failed; it runs again a minute later (three runs in all), else at the next start',
        ),
      onReferenceError: (err, scope, concept) =>
        log?.error(
          { err, ...scope, concept },
          'a reference crop could not be read or decoded: close calls go without it',
        ),
    },
    regionBank,
  );
  const videoStore = await VideoStore.open(config.dataUri, encoder.dim, faceVectorSize(), config.objectStorage);
  const jobs = config.redisUrl ? new BullQueue(config.redisUrl) : undefined;
  const videoModels = { ...models, people };
  const videos = await VideoService.open(
    videoStore,
    service,
    videoModels,
    config.videos ?? defaultVideoOptions,
    log,
    jobs,
  );
  const photoStore = await PhotoStore.open(config.dataUri, encoder.dim, faceVectorSize(), config.objectStorage, (h) =>
    algebra.fromHalves(h),
  );
  const libraryOptions = defaultLibraryOptions(config.limits);
  const library = await PhotoLibrary.open(
    photoStore,
    service,
    models,
    { ...libraryOptions, concurrency: config.photoJobs ?? libraryOptions.concurrency },
    people,
    config.redisUrl ? new BullQueue(config.redisUrl, PHOTO_QUEUE) : undefined,
    redis && new RedisWriteLog(redis, config.dataUri),
  );
  const vlmConfig = config.vlm ?? vlmFromEnv({});
  const opened = await openVlm({ ...vlmConfig, modelsDir: config.modelsDir });
  const vlm = timer ? timedVlm(opened, timer) : opened;
  // Without a model nothing can write descriptions; registration goes on without them.
  const describer =
    vlm instanceof NoVlm
      ? undefined
      : new Describer(service, vlm, (err, c) =>
          log?.info({ err, concept: c.id }, 'no description written for a concept'),
        );
  const personal = new Personalizer(
    service,
    vlm,
    { limits: config.limits, maxConcepts: vlmConfig.maxConcepts },
    describer,
  );
  return {
    service,
    store,
    models,
    threads,
    videos,
    library,
    vlm,
    redis,
    personal,
    people,
    async close() {
      await videos.close();
      await library.close();
      await service.close();
      await describer?.idle();
      await vlm.dispose();
      await Promise.all([encoder.dispose(), detector?.dispose(), algebra.dispose()]);
      store.close();
      await people.close();
      videoStore.close();
      photoStore.close();
      redis?.disconnect();
    },
  };
}
