/**
 * What the server answers while models and storage open (it listens at once, so that orchestrators see it
 * alive): /healthz 200, /readyz 503, /metrics, and 503 model_unavailable with Retry-After for everything else.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Metrics } from '../metrics.js';
import type { Api, AppEnv } from './context.js';
import { errorJson } from './errors.js';
import { registerMetrics } from './routes/system/metrics.js';

export function startingApp(metrics: Metrics): Api {
  const app: Api = new OpenAPIHono<AppEnv>();
  registerMetrics(app, metrics);
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', (c) => c.json({ ok: false, checks: { models: 'loading', database: 'opening' } }, 503));
  app.all('*', (c) =>
    errorJson(c, 503, 'model_unavailable', 'the service is starting: models and storage are opening', {
      'Retry-After': '5',
    }),
  );
  return app;
}
