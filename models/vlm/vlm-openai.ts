/**
 * A VLM behind an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, TGI, Ollama, llama.cpp server).
 * Plain fetch rather than the `openai` package: the retry, timeout and breaker rules here are the service's
 * own (what a 503 or 504 means to our callers), and the package would add a second set.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CircuitBreaker } from './breaker.js';
import { CallLimit } from '../runtime/call-limit.js';
import { ModelCall } from '../runtime/model-call.js';
import { ModelError } from '../runtime/model-error.js';
import { sseData } from './sse.js';
import type { ChatAnswer, ChatMessage, ChatOptions, ModelHealth, VisionLanguageModel } from '../types.js';

export interface OpenAiVlmOptions {
  /** Base URL that `/chat/completions` and `/models` hang off, e.g. `http://gpu:8000/v1`. */
  url: string;
  /** The served model's name; empty takes the first one the server lists. */
  model: string;
  apiKey: string;
  /** Longest wait for an answer (streams: for the first piece and between pieces), slot and retries included. */
  timeoutMs: number;
  /** Further tries after a refused connection, a 429 or a 5xx. */
  retries: number;
  /** Requests in flight at once; more wait in line. */
  concurrency: number;
  maxQueue: number;
  /** Failures in a row that open the circuit breaker, and how long it stays open. */
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** First retry delay; each further one doubles, with jitter. */
  backoffMs: number;
}

export const defaultOpenAiVlmOptions = {
  timeoutMs: 30_000,
  retries: 2,
  concurrency: 8,
  maxQueue: 64,
  breakerThreshold: 5,
  breakerCooldownMs: 15_000,
  backoffMs: 250,
} as const;

const MAX_BACKOFF_MS = 4_000;
const HEALTH_TTL_MS = 10_000;

interface Completion {
  model?: string;
  choices?: {
    message?: { content?: string | null };
    delta?: { content?: string | null };
    finish_reason?: string | null;
  }[];
  error?: { message?: string };
}

/** `Retry-After` in seconds (either form), when the server sent one. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : undefined;
}

/** fetch hides the reason (ECONNREFUSED, ENOTFOUND, ...) in `cause`. */
function describeFetchError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}

export class OpenAiVlm implements VisionLanguageModel {
  private readonly base: string;
  private model: string;
  private readonly breaker: CircuitBreaker;
  private readonly limit: CallLimit;
  private checked?: { at: number; health: ModelHealth };

  constructor(private readonly options: OpenAiVlmOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.model = options.model;
    this.breaker = new CircuitBreaker(options.breakerThreshold, options.breakerCooldownMs);
    this.limit = new CallLimit(options.concurrency, options.maxQueue);
  }

  get name(): string {
    return this.model || `first model of ${this.base}`;
  }

  async chat(messages: ChatMessage[], options: ChatOptions = {}): Promise<ChatAnswer> {
    const call = new ModelCall(this.options.timeoutMs, options.signal);
    try {
      await call.slot(this.limit);
      const res = await this.request('/chat/completions', await this.body(messages, options, false, call), call);
      const json = (await res.json()) as Completion;
      const choice = json.choices?.[0];
      if (typeof choice?.message?.content !== 'string') throw this.malformed(json);
      return {
        text: choice.message.content,
        model: json.model ?? this.model,
        finishReason: choice.finish_reason ?? 'stop',
      };
    } catch (e) {
      throw this.failed(e, call);
    } finally {
      call.end();
    }
  }

  /** Returns the finish reason of the last chunk that gave one. */
  async *stream(
    messages: ChatMessage[],
    options: ChatOptions = {},
  ): AsyncGenerator<string, string | undefined, undefined> {
    const call = new ModelCall(this.options.timeoutMs, options.signal);
    let finishReason: string | undefined;
    try {
      await call.slot(this.limit);
      const res = await this.request('/chat/completions', await this.body(messages, options, true, call), call);
      for await (const data of sseData(res.body!)) {
        call.arm();
        if (data.trim() === '[DONE]') break;
        const json = JSON.parse(data) as Completion;
        if (json.error) throw this.malformed(json);
        const choice = json.choices?.[0];
        finishReason = choice?.finish_reason ?? finishReason;
        if (choice?.delta?.content) yield choice.delta.content;
      }
      return finishReason;
    } catch (e) {
      throw this.failed(e, call);
    } finally {
      call.end();
    }
  }

  /** Breaker state, then (at most every 10 s) whether the server lists its models. */
  async health(): Promise<ModelHealth> {
    if (this.breaker.state !== 'closed') return { ok: false, detail: `circuit breaker ${this.breaker.describe()}` };
    if (this.checked && Date.now() - this.checked.at < HEALTH_TTL_MS) return this.checked.health;
    let health: ModelHealth;
    try {
      const res = await fetch(`${this.base}/models`, {
        headers: this.headers(),
        signal: AbortSignal.timeout(Math.min(3_000, this.options.timeoutMs)),
      });
      const listed = res.ok ? (((await res.json()) as { data?: { id?: string }[] }).data ?? []).map((m) => m.id) : [];
      if (!res.ok) health = { ok: false, detail: `${this.base}/models answered HTTP ${res.status}` };
      else if (this.model && !listed.includes(this.model))
        health = {
          ok: false,
          detail: `${this.base} does not serve ${this.model}; it lists ${listed.join(', ') || 'nothing'}`,
        };
      else health = { ok: true, detail: `ok: ${this.model || listed[0]} at ${this.base}` };
    } catch (e) {
      health = { ok: false, detail: `${this.base} unreachable: ${describeFetchError(e)}` };
    }
    this.checked = { at: Date.now(), health };
    return health;
  }

  async dispose(): Promise<void> {}

  private headers(): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(this.options.apiKey && { authorization: `Bearer ${this.options.apiKey}` }),
    };
  }

  private async body(
    messages: ChatMessage[],
    options: ChatOptions,
    stream: boolean,
    call: ModelCall,
  ): Promise<RequestInit> {
    const payload = {
      ...options.extra,
      model: this.model || (await this.firstListedModel(call)),
      messages,
      stream,
      ...(options.maxTokens !== undefined && { max_tokens: options.maxTokens }),
      ...(options.temperature !== undefined && { temperature: options.temperature }),
    };
    return { method: 'POST', body: JSON.stringify(payload) };
  }

  /** vLLM and its kin serve one model, and a request must name it: without a configured name, ask once. */
  private async firstListedModel(call: ModelCall): Promise<string> {
    const res = await this.request('/models', { method: 'GET' }, call);
    const id = ((await res.json()) as { data?: { id?: string }[] }).data?.[0]?.id;
    if (!id) throw new ModelError('model_unavailable', `${this.base}/models lists no model; set NOMEN_VLM_MODEL`, 60);
    this.model = id;
    return id;
  }

  /**
   * One request with bounded retries: refused connections, 429 and 5xx are retried after an exponential,
   * jittered delay (or the server's Retry-After) while the call's time allows; other statuses are final.
   * Every try passes the circuit breaker and tells it how it went.
   */
  private async request(path: string, init: RequestInit, call: ModelCall): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      this.breaker.admit();
      let failure: { reason: string; retryAfterS?: number };
      try {
        const res = await fetch(`${this.base}${path}`, { ...init, headers: this.headers(), signal: call.signal });
        if (res.ok) {
          this.breaker.success();
          return res;
        }
        const detail = (await res.text().catch(() => '')).slice(0, 300);
        if (res.status !== 429 && res.status < 500) {
          // The server is up and answered; it is this request it refuses.
          this.breaker.success();
          throw new ModelError(
            'model_rejected',
            `the model server refused the request: HTTP ${res.status} ${detail}`.trim(),
          );
        }
        failure = {
          reason: `HTTP ${res.status} ${detail}`.trim(),
          retryAfterS: retryAfter(res.headers.get('retry-after')),
        };
      } catch (e) {
        if (e instanceof ModelError) throw e;
        if (call.signal.aborted) {
          // A timeout is counted once, by `failed`; an abandoned call tells nothing about the server.
          this.breaker.release();
          throw e;
        }
        failure = { reason: describeFetchError(e) };
      }
      this.breaker.failure(failure.reason);
      const delay = failure.retryAfterS !== undefined ? failure.retryAfterS * 1000 : this.backoff(attempt);
      if (attempt >= this.options.retries || !call.hasTime(delay)) {
        const wait = failure.retryAfterS ?? (this.breaker.state === 'closed' ? 1 : this.breaker.retryAfterS);
        throw new ModelError(
          'model_unavailable',
          `the model server ${this.base} failed ${attempt + 1} time(s): ${failure.reason}`,
          wait,
        );
      }
      await sleep(delay, undefined, { signal: call.signal });
    }
  }

  private backoff(attempt: number): number {
    const full = Math.min(MAX_BACKOFF_MS, this.options.backoffMs * 2 ** attempt);
    return full / 2 + (Math.random() * full) / 2;
  }

  private malformed(json: Completion): ModelError {
    const reason = json.error?.message ?? 'an answer without a message';
    this.breaker.failure(reason);
    return new ModelError('model_unavailable', `the model server ${this.base} sent ${reason}`, 1);
  }

  /** Any failure of a call as what the caller should see: a timeout, the caller's own abort, or a ModelError. */
  private failed(e: unknown, call: ModelCall): unknown {
    if (call.abandoned) return e;
    if (call.timedOut) {
      this.breaker.failure(`no answer within ${this.options.timeoutMs} ms`);
      return new ModelError(
        'model_timeout',
        `the model server ${this.base} did not answer within ${this.options.timeoutMs} ms`,
      );
    }
    if (e instanceof ModelError) return e;
    this.breaker.failure(describeFetchError(e));
    return new ModelError('model_unavailable', `the model server ${this.base} failed: ${describeFetchError(e)}`, 1);
  }
}
