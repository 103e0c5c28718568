/** The HTTP API: middleware, routes, the OpenAPI document and the error answers, wired in one place. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { pino } from 'pino';
import { DomainError } from '../../concepts/errors.js';
import { bearerAuth } from './auth.js';
import type { Api, AppEnv, Deps } from './context.js';
import { Metrics } from '../metrics.js';
import { errorJson, errorResponses, onError, validationHook } from './errors.js';
import { rateLimit } from './rate-limit.js';
import { UrlFetcher } from './url-fetch.js';
import { requestLog } from './request-log.js';
import { requestMetrics } from './request-metrics.js';
import { registerAsk } from './routes/captions/ask.js';
import { registerCaption } from './routes/captions/caption.js';
import { registerChatCompletions } from './routes/openai/chat-completions.js';
import { registerAddImages } from './routes/concepts/images.js';
import { registerCreateConcept } from './routes/concepts/create.js';
import { registerConceptCrop } from './routes/concepts/crop.js';
import { registerDeleteConcept } from './routes/concepts/delete.js';
import { registerGetConcept } from './routes/concepts/get.js';
import { registerListConcepts } from './routes/concepts/list.js';
import { registerConsole } from './routes/console/console.js';
import { registerDocs } from './routes/system/docs.js';
import { registerMetrics } from './routes/system/metrics.js';
import { registerUpdateConcept } from './routes/concepts/update.js';
import { registerHealth } from './routes/system/health.js';
import { registerRecognize } from './routes/recognition/recognize.js';
import { registerDeleteUser } from './routes/users/delete.js';
import { registerDeleteVideo } from './routes/videos/delete.js';
import { registerGetVideo } from './routes/videos/get.js';
import { registerVideoMoments } from './routes/videos/moments.js';
import { isVideoUpload, registerUploadVideo } from './routes/videos/upload.js';
import { registerAddFeedback } from './routes/concepts/feedback-add.js';
import { registerDeleteFeedback } from './routes/concepts/feedback-delete.js';
import { registerListFeedback } from './routes/concepts/feedback-list.js';
import { registerAddPhotos } from './routes/photos/add.js';
import { registerDeletePhoto } from './routes/photos/delete.js';
import { registerFindPhotos } from './routes/photos/find.js';
import { registerGetPhotoJob } from './routes/photos/job-get.js';

export type { Deps } from './context.js';

const ROUTES = [
  registerHealth,
  registerCreateConcept,
  registerListConcepts,
  registerGetConcept,
  registerUpdateConcept,
  registerDeleteConcept,
  registerAddImages,
  registerConceptCrop,
  registerRecognize,
  registerCaption,
  registerAsk,
  registerChatCompletions,
  registerDeleteUser,
  registerUploadVideo,
  registerGetVideo,
  registerVideoMoments,
  registerDeleteVideo,
  registerAddPhotos,
  registerGetPhotoJob,
  registerFindPhotos,
  registerDeletePhoto,
  registerAddFeedback,
  registerListFeedback,
  registerDeleteFeedback,
];

export function createApp(deps: Deps): Api {
  const app: Api = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const metrics = deps.metrics ?? new Metrics();
  metrics.watchQueue('user_writes', () => deps.service.pendingWrites);
  metrics.watchQueue('refinements', () => deps.service.pendingRefinements);
  const jobs = deps.videos;
  if (jobs) metrics.watchQueue('video_jobs', () => jobs.queuedJobs);
  const { library } = deps;
  if (library) metrics.watchQueue('photo_jobs', () => library.queuedJobs);

  app.use(requestId(), requestLog(deps.log ?? pino({ level: 'warn' })), requestMetrics(metrics));
  // Before auth, so that browsers' preflight requests (which carry no key) are answered.
  if (deps.config.corsOrigins.length > 0) {
    const origins = deps.config.corsOrigins;
    app.use(
      cors({
        origin: origins.includes('*') ? '*' : origins,
        allowHeaders: ['Authorization', 'Content-Type'],
        exposeHeaders: ['Retry-After', 'X-Request-Id'],
        maxAge: 600,
      }),
    );
  }
  // Auth first: an unknown caller's body is never read; nor is a limited caller's.
  app.use('/v1/*', bearerAuth(deps.config.apiKeys), rateLimit(deps.config.rateLimit));
  const { urlFetch } = deps.config;
  if (urlFetch) {
    const fetcher = new UrlFetcher({ ...urlFetch, maxBytes: deps.config.limits.maxBytes });
    app.use('/v1/*', (c, next) => (c.set('urlFetcher', fetcher), next()));
  }
  // Judged from Content-Length before reading; a chunked body is cut off once it passes the limit.
  const limit = bodyLimit({
    maxSize: deps.config.maxBodyBytes,
    onError: () => {
      throw new DomainError('too_large', `request body is over the limit of ${deps.config.maxBodyBytes} bytes`);
    },
  });
  // A multipart video streams to disk under the video size limit instead.
  app.use('/v1/*', (c, next) => (isVideoUpload(c) ? next() : limit(c, next)));
  // Requests before video indexing: a job waits while any other request is answered.
  const { videos } = deps;
  if (videos)
    app.use('/v1/*', (c, next) =>
      /^\/v1\/users\/[^/]+\/videos(\/|$)/.test(c.req.path) ? next() : videos.serving(next),
    );

  for (const register of ROUTES) register(app, deps);
  registerMetrics(app, metrics);
  // Any /v1 route may answer 429 once its key's rate is spent: documented here, where the limit is applied.
  for (const d of app.openAPIRegistry.definitions)
    if (d.type === 'route' && d.route.path.startsWith('/v1/'))
      d.route.responses = { ...errorResponses(429), ...d.route.responses };

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'nomen',
      version: '1',
      description: "Learns a user's visual concepts from a few photos and finds them in new ones.",
    },
    security: [{ bearer: [] }],
  });
  registerDocs(app);
  registerConsole(app);

  app.notFound((c) => errorJson(c, 404, 'not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError(onError);
  return app;
}
