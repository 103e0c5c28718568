/** Service configuration from the environment (SPEC "Configuration"): every setting has a default. */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { limitsFromEnv, type IntakeLimits } from '../concepts/intake/intake.js';
import type { ObjectStorage } from '../concepts/storage/object-storage.js';
import type { BankSource } from '../concepts/learning/region-bank-file.js';
import { defaultLibraryOptions } from '../concepts/library/library.js';
import { defaultVideoOptions, type VideoOptions } from '../concepts/video/video-options.js';
import type { VlmSettings } from '../models/load.js';
import { defaultOpenAiVlmOptions } from '../models/vlm/vlm-openai.js';

export interface Config {
  port: number;
  host: string;
  dataUri: string;
  modelsDir: string;
  encoder: string;
  /** Detector folder for region proposals; empty turns proposals from a detector off. */
  detector: string;
  /** key -> tenant; empty means no keys: loopback only, every caller is tenant "local". */
  apiKeys: Map<string, string>;
  limits: IntakeLimits;
  /** Largest request body accepted, checked before the body is read. */
  maxBodyBytes: number;
  /** Requests per second each API key may make on average, and how many at once; rate 0 turns limits off. */
  rateLimit: { perSecond: number; burst: number };
  /** Browser origins allowed to call the API (CORS); empty turns CORS off, `*` allows any. */
  corsOrigins: string[];
  /** Seconds between compactions of the store by the server; 0 turns them off. */
  compactIntervalS: number;
  /** The S3-compatible server of an `s3://` NOMEN_DATA, from the standard AWS variables; AWS's defaults when absent. */
  objectStorage?: ObjectStorage;
  /** Redis shared by the API processes of one dataset (the per-user write lock); none for a single process. */
  redisUrl?: string;
  /** Fetching `{url}` images (NOMEN_ALLOW_URL_FETCH); absent: off. */
  urlFetch?: { timeoutMs: number; allow: string[] };
  /** Video uploads and indexing; the defaults when absent. */
  videos?: VideoOptions;
  /** Photo library indexing jobs this process runs at once (0: only processes sharing the queue in Redis). */
  photoJobs?: number;
  /** The multimodal model for captions and answers; the defaults (local model if installed) when absent. */
  vlm?: VlmConfig;
  /** Where the region bank of the open world lives, and the ordinary photos it is built from. */
  bank: BankSource;
  /** Person concepts by their faces: off unless the operator opts in (faces are biometric data). */
  faces: FaceConfig;
}

export interface FaceConfig {
  on: boolean;
  /** Photos of strangers (files, or folders of them) whose faces every person's threshold is held above. */
  bankPhotos: string[];
  /** The tenants faces are on for; empty or absent: every tenant. */
  tenants?: string[];
}

export interface VlmConfig extends Omit<VlmSettings, 'modelsDir'> {
  /** Present concepts put into one request, best first. */
  maxConcepts: number;
}

export const DEFAULT_ENCODER = 'mobilenetv2-12-int8';
export const DEFAULT_DETECTOR = 'yolox-nano';

/** A non-negative number from the environment, `fallback` when unset; `integer` refuses fractions. */
function nonNegative(env: NodeJS.ProcessEnv, name: string, fallback: number, integer: boolean): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < 0)
    throw new Error(`${name} must be a non-negative ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

const int = (env: NodeJS.ProcessEnv, name: string, fallback: number) => nonNegative(env, name, fallback, true);
const num = (env: NodeJS.ProcessEnv, name: string, fallback: number) => nonNegative(env, name, fallback, false);

/** `key:tenant` pairs, comma-separated; `@file` reads them from a file, one pair per line or comma-separated. */
export function parseApiKeys(raw: string | undefined, readFile: (p: string) => string): Map<string, string> {
  const keys = new Map<string, string>();
  if (!raw) return keys;
  const text = raw.startsWith('@') ? readFile(raw.slice(1)) : raw;
  for (const pair of text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = pair.lastIndexOf(':');
    const key = pair.slice(0, at).trim();
    const tenant = pair.slice(at + 1).trim();
    if (at <= 0 || !key || !/^[A-Za-z0-9._@-]{1,128}$/.test(tenant))
      throw new Error(`NOMEN_API_KEYS: expected key:tenant, got "${pair.replace(/.(?=.{4})/g, '*')}"`);
    keys.set(key, tenant);
  }
  return keys;
}

const list = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function loadConfig(env: NodeJS.ProcessEnv, readFile: (p: string) => string): Config {
  const limits = limitsFromEnv(env);
  return {
    port: int(env, 'PORT', 8787),
    host: env.HOST || '127.0.0.1',
    dataUri: env.NOMEN_DATA || './data',
    modelsDir: path.resolve(env.NOMEN_MODELS || './models'),
    encoder: env.NOMEN_ENCODER || DEFAULT_ENCODER,
    detector: env.NOMEN_DETECTOR ?? DEFAULT_DETECTOR,
    apiKeys: parseApiKeys(env.NOMEN_API_KEYS, readFile),
    limits,
    // One request's images together: larger uploads are refused before they are read.
    maxBodyBytes: int(env, 'NOMEN_MAX_BODY_BYTES', 50 * 1024 * 1024),
    rateLimit: rateLimitFromEnv(env),
    corsOrigins: list(env.NOMEN_CORS_ORIGINS),
    compactIntervalS: int(env, 'NOMEN_COMPACT_INTERVAL_S', 3600),
    objectStorage: {
      endpoint: env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined,
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
      accessKeyId: env.AWS_ACCESS_KEY_ID || undefined,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY || undefined,
    },
    redisUrl: env.REDIS_URL || undefined,
    urlFetch: urlFetchFromEnv(env),
    videos: videosFromEnv(env),
    photoJobs: jobsFromEnv(env, 'NOMEN_PHOTO_JOBS', defaultLibraryOptions(limits).concurrency),
    vlm: vlmFromEnv(env),
    bank: bankFromEnv(env, path.resolve(env.NOMEN_MODELS || './models')),
    faces: facesFromEnv(env, path.resolve(env.NOMEN_MODELS || './models')),
  };
}

/**
 * NOMEN_FACES=on turns person concepts on, for the tenants NOMEN_FACES_TENANTS lists (all when empty);
 * NOMEN_FACE_BANK_PHOTOS names folders of photos of strangers, by default the shared face distractors and group
 * photos beside the models folder when they are there.
 */
export function facesFromEnv(env: NodeJS.ProcessEnv, modelsDir: string): FaceConfig {
  const raw = (env.NOMEN_FACES ?? '').trim().toLowerCase();
  if (!['', 'on', 'off', '1', '0', 'true', 'false'].includes(raw))
    throw new Error(`NOMEN_FACES must be on or off, got "${env.NOMEN_FACES}"`);
  const shared = ['distractors', 'groups'].map((f) => path.resolve(modelsDir, '../data/faces', f));
  const bankPhotos =
    env.NOMEN_FACE_BANK_PHOTOS !== undefined
      ? list(env.NOMEN_FACE_BANK_PHOTOS).map((p) => path.resolve(p))
      : shared.filter((f) => existsSync(f));
  return { on: ['on', '1', 'true'].includes(raw), bankPhotos, tenants: list(env.NOMEN_FACES_TENANTS) };
}

/**
 * NOMEN_BANK_DIR holds the region bank files (a cache, one per encoder); NOMEN_BANK_PHOTOS names folders of ordinary
 * photos to build one from, by default the shared distractors beside the models folder when it is there.
 */
export function bankFromEnv(env: NodeJS.ProcessEnv, modelsDir: string): BankSource {
  const cache = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const shared = path.resolve(modelsDir, '../data/distractors');
  const photos =
    env.NOMEN_BANK_PHOTOS !== undefined
      ? list(env.NOMEN_BANK_PHOTOS).map((p) => path.resolve(p))
      : existsSync(shared)
        ? [shared]
        : [];
  return { dir: path.resolve(env.NOMEN_BANK_DIR || path.join(cache, 'nomen', 'banks')), photos };
}

/** NOMEN_VLM_URL, _MODEL and _API_KEY name the server (SPEC); the rest tune how it is called. */
export function vlmFromEnv(env: NodeJS.ProcessEnv): VlmConfig {
  const device = env.NOMEN_VLM_DEVICE || 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`NOMEN_VLM_DEVICE must be cpu or cuda, got "${device}"`);
  const timeoutMs = int(env, 'NOMEN_VLM_TIMEOUT_MS', defaultOpenAiVlmOptions.timeoutMs);
  if (timeoutMs === 0) throw new Error('NOMEN_VLM_TIMEOUT_MS must be at least 1');
  return {
    url: env.NOMEN_VLM_URL ?? '',
    model: env.NOMEN_VLM_MODEL ?? '',
    apiKey: env.NOMEN_VLM_API_KEY ?? '',
    timeoutMs,
    retries: int(env, 'NOMEN_VLM_RETRIES', defaultOpenAiVlmOptions.retries),
    concurrency: Math.max(1, int(env, 'NOMEN_VLM_CONCURRENCY', defaultOpenAiVlmOptions.concurrency)),
    device,
    maxConcepts: int(env, 'NOMEN_VLM_MAX_CONCEPTS', 3),
  };
}

/** A photo app sends its users' traffic through one key, so the default leaves room for many users at once. */
function rateLimitFromEnv(env: NodeJS.ProcessEnv): Config['rateLimit'] {
  const perSecond = num(env, 'NOMEN_RATE_LIMIT', 50);
  const burst = num(env, 'NOMEN_RATE_BURST', Math.max(1, 2 * perSecond));
  if (perSecond > 0 && burst < 1) throw new Error('NOMEN_RATE_BURST must be at least 1');
  return { perSecond, burst };
}

function videosFromEnv(env: NodeJS.ProcessEnv): VideoOptions {
  const d = defaultVideoOptions;
  const fps = num(env, 'NOMEN_VIDEO_FPS', d.fps);
  const options = {
    ...d,
    fps,
    maxFps: Math.max(d.maxFps, fps),
    maxBytes: int(env, 'NOMEN_VIDEO_MAX_BYTES', d.maxBytes),
    maxDurationS: num(env, 'NOMEN_VIDEO_MAX_SECONDS', d.maxDurationS),
    detector: int(env, 'NOMEN_VIDEO_DETECTOR', Number(d.detector)) > 0,
  };
  if (!(options.fps > 0 && options.maxBytes > 0 && options.maxDurationS > 0)) {
    throw new Error('NOMEN_VIDEO_FPS, NOMEN_VIDEO_MAX_BYTES and NOMEN_VIDEO_MAX_SECONDS must be above 0');
  }
  return { ...options, concurrency: jobsFromEnv(env, 'NOMEN_VIDEO_JOBS', d.concurrency) };
}

/** Indexing jobs a process runs at once; 0: this process runs none, others sharing the queue do. */
function jobsFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const jobs = int(env, name, fallback);
  if (jobs === 0 && !env.REDIS_URL)
    throw new Error(`${name}=0 needs REDIS_URL: jobs then run in processes that share its queue`);
  return jobs;
}

/**
 * Off unless NOMEN_ALLOW_URL_FETCH is 1 or true; NOMEN_URL_FETCH_ALLOW lists CIDR ranges let through besides public
 * addresses.
 */
function urlFetchFromEnv(env: NodeJS.ProcessEnv): Config['urlFetch'] {
  if (!/^(1|true)$/i.test(env.NOMEN_ALLOW_URL_FETCH ?? '')) return undefined;
  const allow = list(env.NOMEN_URL_FETCH_ALLOW);
  const bad = allow.find((cidr) => !ipaddr.isValidCIDR(cidr));
  if (bad) throw new Error(`NOMEN_URL_FETCH_ALLOW: "${bad}" is not a CIDR range such as 10.1.0.0/16`);
  const timeoutMs = int(env, 'NOMEN_URL_FETCH_TIMEOUT_MS', 5000);
  if (timeoutMs === 0) throw new Error('NOMEN_URL_FETCH_TIMEOUT_MS must be at least 1');
  return { timeoutMs, allow };
}
