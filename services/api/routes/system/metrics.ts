/** GET /metrics: Prometheus text exposition. */
import { createRoute, z } from '@hono/zod-openapi';
import type { Metrics } from '../../../metrics.js';
import type { Api } from '../../context.js';

const route = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics',
  tags: ['health'],
  security: [],
  responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
});

export function registerMetrics(app: Api, metrics: Metrics): void {
  app.openapi(route, async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
}
