/** Bearer API keys to tenants (SPEC "Access"). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';
import { errorJson } from './errors.js';

/** The tenant of every caller when no keys are configured (the server then listens on loopback only). */
export const LOCAL_TENANT = 'local';

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Resolves `Authorization: Bearer <key>` to `c.var.tenant`, or answers 401. */
export function bearerAuth(apiKeys: ReadonlyMap<string, string>): MiddlewareHandler<AppEnv> {
  // Only digests stay in memory; equal-length digests make the comparison constant-time whatever the key's length.
  // The id of a key (for rate limits) is its position in the configuration: nothing of the key itself.
  const digests = [...apiKeys].map(([key, tenant], i) => ({ digest: sha256(key), tenant, keyId: `key${i}` }));
  return async (c, next) => {
    if (digests.length === 0) {
      c.set('tenant', LOCAL_TENANT);
      c.set('keyId', LOCAL_TENANT);
      return next();
    }
    const token = /^Bearer +(\S+) *$/i.exec(c.req.header('Authorization') ?? '')?.[1];
    if (!token) return unauthorized(c, 'send Authorization: Bearer <api key>', 'Bearer realm="nomen"');
    const presented = sha256(token);
    // Every digest is compared, so the time taken does not tell which key came close.
    let found: (typeof digests)[number] | undefined;
    for (const d of digests) if (timingSafeEqual(d.digest, presented)) found ??= d;
    if (!found) return unauthorized(c, 'unknown API key', 'Bearer realm="nomen", error="invalid_token"');
    c.set('tenant', found.tenant);
    c.set('keyId', found.keyId);
    return next();
  };
}

function unauthorized(c: Context<AppEnv>, message: string, challenge: string): Response {
  return errorJson(c, 401, 'unauthorized', message, { 'WWW-Authenticate': challenge });
}
