/** `npm start`: configuration from the environment, models and store opened, the API served until SIGTERM/SIGINT. */
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { pino } from 'pino';
import { createApp } from './api/app.js';
import type { Readiness } from './api/context.js';
import { loadConfig } from './config.js';
import { openRuntime } from './runtime.js';

const DRAIN_MS = 10_000;
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const log = pino();
const config = loadConfig(process.env, (p) => readFileSync(p, 'utf8'));

let host = config.host;
if (config.apiKeys.size === 0) {
  if (!LOOPBACK.has(host)) host = '127.0.0.1';
  log.warn({ host }, 'no API keys configured (NOMEN_API_KEYS): listening on loopback only; every caller is tenant "local"');
}

const runtime = await openRuntime(config);
log.info({ encoder: config.encoder, detector: config.detector || null }, 'models loaded');

// A scope no tenant can name (tenants are [A-Za-z0-9._@-]) reads nothing, but proves the store answers.
const probe = { tenant: '#readyz', user: '#readyz' };
async function ready(): Promise<Readiness> {
  try {
    await runtime.store.loadUser(probe);
    return { ok: true, checks: { models: 'ok', database: 'ok' } };
  } catch (e) {
    return { ok: false, checks: { models: 'ok', database: e instanceof Error ? e.message : String(e) } };
  }
}

const app = createApp({ service: runtime.service, config, ready, log });
const server = serve({ fetch: app.fetch, hostname: host, port: config.port }, (info) => {
  log.info({ host: info.address, port: info.port }, 'nomen listening');
});

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
    await runtime.close();
    log.info('stopped');
    process.exit(0);
  });
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
