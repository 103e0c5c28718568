/**
 * Descriptions written by the VLM for concepts registered without one (colours, markings, distinctive parts):
 * they go into every later request about the concept. Written in the background, so registration never waits
 * for the VLM or fails with it; a concept whose description failed is tried again on a later caption, at most
 * every RETRY_MS. A description set meanwhile (PATCH) is never overwritten.
 */
import { LRUCache } from 'lru-cache';
import type { VisionLanguageModel } from '../../models/types.js';
import { jpegDataUrl } from './conditioning.js';
import type { ConceptService } from '../service.js';
import { type Concept, keyOf, type Scope } from '../types.js';

/** Reference crops shown to the model: enough to tell the subject from its backgrounds. */
const PHOTOS = 3;
const RETRY_MS = 10 * 60_000;
const REMEMBERED = 10_000;
/** What the API accepts for a description. */
const MAX_LENGTH = 2000;

export class Describer {
  private readonly running = new Set<Promise<void>>();
  /** When each concept was last tried; the least recently tried forgotten past REMEMBERED. */
  private readonly tried = new LRUCache<string, number>({ max: REMEMBERED });

  constructor(
    private readonly service: ConceptService,
    private readonly vlm: VisionLanguageModel,
    private readonly onError: (e: unknown, concept: Concept) => void = () => {},
  ) {}

  /** Starts describing `concept` in the background, unless it has a description or was tried lately. */
  schedule(scope: Scope, concept: Concept): void {
    if (concept.description) return;
    const key = keyOf(scope, concept.id);
    const now = Date.now();
    if (now - (this.tried.peek(key) ?? -Infinity) < RETRY_MS) return;
    this.tried.set(key, now);
    const job: Promise<void> = this.describe(scope, concept)
      .catch((e: unknown) => this.onError(e, concept))
      .finally(() => this.running.delete(job));
    this.running.add(job);
  }

  /** Resolves once no description is being written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private async describe(scope: Scope, concept: Concept): Promise<void> {
    // The reference crops show the subject once the concept is refined; its draft's show the whole photos.
    await this.service.whenRefined(scope, concept.id);
    const photos = Array.from({ length: Math.min(PHOTOS, concept.imageCount) }, (_, i) =>
      this.service.referenceCrop(scope, concept.id, i),
    );
    const crops = (await Promise.all(photos)).filter((c): c is Uint8Array => c !== undefined);
    if (crops.length === 0) return;
    const { text } = await this.vlm.chat(describeRequest(crops.map(jpegDataUrl), concept.category), {
      maxTokens: 120,
      temperature: 0,
    });
    const description = text.replace(/\s+/g, ' ').trim().slice(0, MAX_LENGTH);
    if (!description) return;
    await this.service.update(scope, concept.id, { description }, (current) => current.description === '');
  }
}

function describeRequest(crops: string[], category: string) {
  const subject = category || 'subject';
  const text =
    `${crops.length > 1 ? 'These photos show the same' : 'This photo shows a'} ${subject}. Describe how it looks in ` +
    `one or two sentences, ` +
    'so that someone could tell it apart from others of its kind: colours, markings, shapes, distinctive parts. ' +
    `Describe only the ${subject}, not the background, and do not give it a name.`;
  return [
    {
      role: 'user' as const,
      content: [
        ...crops.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
        { type: 'text' as const, text },
      ],
    },
  ];
}
