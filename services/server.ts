/**
 * `npm start`: configuration from the environment, the API served until SIGTERM/SIGINT.
 * It listens at once and answers 503 (`/readyz` and the API, with Retry-After) while models and storage
 * open, so that an orchestrator sees a live process that is not ready yet rather than a refused connection.
 */
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { parseS3Uri } from '../concepts/storage/object-storage.js';
import { createApp } from './api/app.js';
import type { Readiness } from './api/context.js';
import { startingApp } from './api/starting.js';
import { scheduleCompaction, type Compaction } from './compaction.js';
import { loadConfig } from './config.js';
import { fetchMissingModels } from './first-start.js';
import { BankError } from '../concepts/learning/region-bank-file.js';
import { Metrics } from './metrics.js';
import { openRuntime, type Runtime } from './runtime.js';

const DRAIN_MS = 10_000;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const log = pino();
const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
const missing = await fetchMissingModels(config, (line) => log.info({ models: config.modelsDir }, line));
if (missing) {
  console.error(missing);
  process.exit(1);
}

let host = config.host;
if (config.apiKeys.size === 0) {
  if (!LOOPBACK.has(host)) host = '127.0.0.1';
  log.warn(
    { host },
    'no API keys configured (NOMEN_API_KEYS): listening on loopback only; every caller is tenant "local"',
  );
}
if (parseS3Uri(config.dataUri) && !config.redisUrl) {
  log.warn(
    'data in object storage without REDIS_URL: run one API process on it, or set REDIS_URL so that processes take ' +
      'turns writing a user',
  );
}

const metrics = new Metrics();
let app = startingApp(metrics);
const server = serve(
  { fetch: (request, env) => app.fetch(request, env), hostname: host, port: config.port },
  (info) => {
    log.info({ host: info.address, port: info.port }, 'nomen listening');
  },
);

let runtime: Runtime | undefined;
let compaction: Compaction | undefined;
let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: no new connections, in-flight requests may finish');
  const force = setTimeout(() => {
    log.warn('in-flight requests did not finish in time; closing their connections');
    if ('closeAllConnections' in server) server.closeAllConnections();
  }, DRAIN_MS);
  force.unref();
  server.close(async () => {
    clearTimeout(force);
    // Writes finish with their requests; a compaction in progress is waited for, then the store is closed.
    await compaction?.stop();
    await runtime?.close();
    log.info('stopped');
    process.exit(0);
  });
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

try {
  runtime = await openRuntime(config, metrics.timeModel, log);
} catch (err) {
  // What the operator must set up is one line, as for missing models; anything else is a fault, with its stack.
  if (err instanceof BankError) process.stderr.write(`nomen: ${err.message}\n`);
  else log.fatal({ err }, 'could not open models or storage');
  process.exit(1);
}
log.info(
  { encoder: config.encoder, detector: config.detector || null, data: redactUri(config.dataUri) },
  'models and storage ready',
);

// A scope no tenant can name (tenants are [A-Za-z0-9._@-]) reads nothing, but proves the store answers.
const probe = { tenant: '#readyz', user: '#readyz' };
const store = runtime.store;
const threads = runtime.threads;
const vlm = runtime.vlm;
log.info({ vlm: vlm.name }, 'multimodal model');
const redis = runtime.redis;
const check = (probe: () => Promise<unknown>): Promise<string> =>
  probe().then(
    () => 'ok',
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
async function ready(): Promise<Readiness> {
  // The VLM's state is reported but does not make the instance unready: recognition serves without it.
  const [model, database, shared] = await Promise.all([
    vlm.health(),
    check(() => store.loadUser(probe)),
    redis && check(() => redis.ping()),
  ]);
  const models = threads.health();
  const ok = models === 'ok' && database === 'ok' && (shared ?? 'ok') === 'ok';
  return { ok, checks: { models, database, ...(shared && { redis: shared }), vlm: model.detail } };
}

if (!stopping) {
  app = createApp({
    service: runtime.service,
    videos: runtime.videos,
    library: runtime.library,
    personal: runtime.personal,
    config,
    ready,
    log,
    metrics,
  });
  const { videos, people, library } = runtime;
  const compact = async () => {
    await store.compact();
    await videos.compact();
    await people.store.compact();
    await library.compact();
  };
  compaction = scheduleCompaction({ compact }, config.compactIntervalS, log);
}

/** A data URI for the log, without credentials should one carry them. */
function redactUri(uri: string): string {
  return uri.replace(/\/\/[^/@]*@/, '//***@');
}
