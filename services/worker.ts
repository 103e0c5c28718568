/**
 * `npm run worker`: takes video and photo library indexing jobs from the queues that the API processes share
 * (REDIS_URL), on the same data (NOMEN_DATA), with no HTTP. Runs NOMEN_VIDEO_JOBS video jobs and NOMEN_PHOTO_JOBS
 * photo jobs at once; SIGTERM stops them, and they resume in another process (or here, after a restart) from
 * their last stored frame or chunk of photos.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { openRuntime } from './runtime.js';

const log = pino();
const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));
if (!config.redisUrl) {
  log.fatal(
    "a worker takes its jobs from the queue in Redis: set REDIS_URL (and NOMEN_DATA to the API processes' data)",
  );
  process.exit(1);
}
const runtime = await openRuntime(config, undefined, log);
log.info(
  { videoJobs: config.videos?.concurrency, photoJobs: config.photoJobs },
  'worker taking video jobs and photo jobs',
);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'worker stopping: running jobs go back to the queue');
  await runtime.close();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
