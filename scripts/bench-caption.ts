/**
 * The personalisation overhead of POST /v1/caption: everything but the VLM's own time (decode, recognition,
 * conditioning, the name check and rewrite), measured on the real server against a stand-in VLM on loopback
 * that answers at once and ignores the names it is given, so the repair runs as well.
 */
import { percentile } from './lib/metrics.js';
import type { OpenAiStandIn } from '../tests/support/openai-server.js';

export interface CaptionBench {
  /** The server's base URL, its API key and a user with concepts registered. */
  url: string;
  key: string;
  user: string;
  /** A photo of one of the user's concepts, and that concept's category. */
  photo: Buffer;
  category: string;
  standIn: OpenAiStandIn;
  runs: number;
}

export interface CaptionFigures {
  /** p50 and p95 in ms: in the server (total - vlm), and over HTTP (wall - vlm). */
  server: [number, number];
  http: [number, number];
  /** p50 of each stage the server reports. */
  stages: Record<string, number>;
  /** Whether the caption called the concept by its name. */
  named: boolean;
}

export async function benchCaption(b: CaptionBench): Promise<CaptionFigures> {
  b.standIn.reply = () => ({ text: `A ${b.category} is standing on the floor.` });
  const body = JSON.stringify({ user: b.user, image: { data: b.photo.toString('base64') } });
  const caption = async () => {
    const t = performance.now();
    const res = await fetch(`${b.url}/v1/caption`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${b.key}` },
    });
    const json = (await res.json()) as { concepts: { named: boolean }[]; timings: Record<string, number> };
    if (!res.ok) throw new Error(`caption: ${res.status} ${JSON.stringify(json)}`);
    return { wall: performance.now() - t, json };
  };
  const first = await caption();
  const server: number[] = [];
  const http: number[] = [];
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < b.runs; i++) {
    const { wall, json } = await caption();
    server.push(json.timings.total - json.timings.vlm);
    http.push(wall - json.timings.vlm);
    for (const [stage, ms] of Object.entries(json.timings)) (stages[stage] ??= []).push(ms);
  }
  const p = (xs: number[]): [number, number] => [percentile(xs, 50), percentile(xs, 95)];
  return {
    server: p(server),
    http: p(http),
    stages: Object.fromEntries(Object.entries(stages).map(([stage, ms]) => [stage, percentile(ms, 50)])),
    named: first.json.concepts.length > 0 && first.json.concepts.every((c) => c.named),
  };
}
