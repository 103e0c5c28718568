/** What every route and middleware of the API shares: the app's variables and its dependencies. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { ConceptService } from '../../concepts/service.js';
import type { Config } from '../config.js';

export interface Readiness {
  ok: boolean;
  checks: Record<string, string>;
}

export interface Deps {
  service: ConceptService;
  config: Config;
  ready: () => Promise<Readiness>;
  /** Defaults to warnings and errors on stderr. */
  log?: Logger;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** Set by auth on every /v1 call. */
    tenant: string;
    /** The app's logger bound to this request's id. */
    log: Logger;
  };
}

export type Api = OpenAPIHono<AppEnv>;
