/** GET /healthz (the process answers) and GET /readyz (models loaded, database reachable). */
import { createRoute, z } from '@hono/zod-openapi';
import type { Api, Deps, Readiness } from '../../context.js';

const Health = z.object({ ok: z.boolean() }).openapi('Health');
const Ready = z.object({ ok: z.boolean(), checks: z.record(z.string(), z.string()) }).openapi('Readiness');

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness',
  tags: ['health'],
  security: [],
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Health } } } },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness',
  tags: ['health'],
  security: [],
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Ready } } },
    503: { description: 'Not ready yet', content: { 'application/json': { schema: Ready } } },
  },
});

export function registerHealth(app: Api, { ready }: Deps): void {
  app.openapi(healthz, (c) => c.json({ ok: true }, 200));
  app.openapi(readyz, async (c) => {
    const state: Readiness = await ready().catch((e: unknown) => ({
      ok: false,
      checks: { ready: e instanceof Error ? e.message : String(e) },
    }));
    return state.ok ? c.json(state, 200) : c.json(state, 503);
  });
}
