/** Request latency by route template and status, and error answers by code, into the service's metrics. */
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Metrics } from '../metrics.js';
import type { AppEnv } from './context.js';

export function requestMetrics(metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const end = metrics.requests.startTimer();
    await next();
    end({ method: c.req.method, route: routeTemplate(c), status: String(c.res.status) });
    if (c.var.errorCode) metrics.errors.inc({ code: c.var.errorCode });
  };
}

/** `/v1/users/{user}/concepts/{id}` rather than the path, so that labels stay few; `unmatched` for unknown paths. */
function routeTemplate(c: Context): string {
  // Middleware are registered for every method ('ALL'); the route that answers names one.
  return (
    matchedRoutes(c)
      .filter((r) => r.method !== 'ALL')
      .at(-1)?.path ?? 'unmatched'
  );
}
