/** What every route and middleware of the API shares: the app's variables and its dependencies. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { Personalizer } from '../../concepts/captioning/personalize.js';
import type { PhotoLibrary } from '../../concepts/library/library.js';
import type { ConceptService } from '../../concepts/service.js';
import type { VideoService } from '../../concepts/video/videos.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { UrlFetcher } from './url-fetch.js';

export interface Readiness {
  ok: boolean;
  checks: Record<string, string>;
}

export interface Deps {
  service: ConceptService;
  /** Video routes are served when given. */
  videos?: VideoService;
  /** Photo library routes are served when given. */
  library?: PhotoLibrary;
  /** Caption, ask and chat-completion routes are served when given. */
  personal?: Personalizer;
  config: Config;
  ready: () => Promise<Readiness>;
  /** Defaults to warnings and errors on stderr. */
  log?: Logger;
  /** Defaults to a registry of this app's own. */
  metrics?: Metrics;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** Set by auth on every /v1 call. */
    tenant: string;
    /** Which API key called (never the key itself); set by auth with the tenant. */
    keyId: string;
    /** The code of the error answered, for metrics; set by `errorJson`. */
    errorCode?: string;
    /** Fetches `{url}` images; absent where the server does not (NOMEN_ALLOW_URL_FETCH off). */
    urlFetcher?: UrlFetcher;
    /** The app's logger bound to this request's id. */
    log: Logger;
  };
}

export type Api = OpenAPIHono<AppEnv>;
