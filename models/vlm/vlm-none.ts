/** The VLM when none is configured or installed: every call answers model_unavailable with how to get one. */
import { ModelError } from '../runtime/model-error.js';
import type { ChatAnswer, ModelHealth, VisionLanguageModel } from '../types.js';

/** Long enough not to invite a retry storm: only a configuration change helps. */
const RETRY_AFTER_S = 300;

export class NoVlm implements VisionLanguageModel {
  readonly name = 'none';

  constructor(private readonly reason: string) {}

  async chat(): Promise<ChatAnswer> {
    throw new ModelError('model_unavailable', this.reason, RETRY_AFTER_S);
  }

  async *stream(): AsyncGenerator<string, void, undefined> {
    throw new ModelError('model_unavailable', this.reason, RETRY_AFTER_S);
  }

  async health(): Promise<ModelHealth> {
    return { ok: false, detail: this.reason };
  }

  async dispose(): Promise<void> {}
}
