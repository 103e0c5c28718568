/**
 * A stand-in VLM server on loopback that speaks the OpenAI chat-completions protocol (JSON and streamed),
 * for tests, the caption eval and the bench. It records every request, and each reply is chosen by `reply`:
 * a text (optionally slow, streamed word by word when the request asks), an HTTP error, a dropped
 * connection, or no answer at all. Its default reply, like a VLM that ignores the names it is given, never
 * names anything.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChatMessage } from '../../models/types.js';

export interface ChatBody {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  max_tokens?: number;
  [key: string]: unknown;
}

export type Reply =
  /**
   * `delayMs` before answering (streamed replies: before each word); a stream stops short after `stallAfterWords`;
   * `finishReason` 'stop' by default.
   */
  | { text: string; delayMs?: number; stallAfterWords?: number; finishReason?: string }
  | { status: number; retryAfterS?: number; delayMs?: number }
  /** Closes the connection without an answer. */
  | { drop: true }
  /** Never answers. */
  | { hang: true };

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body?: ChatBody;
  /** Requests being answered when this one arrived, itself included. */
  concurrent: number;
}

export const STAND_IN_MODEL = 'stand-in-vlm';

/** Every text part of a request, in order. */
export function requestText(body: ChatBody): string {
  return body.messages
    .flatMap((m) =>
      typeof m.content === 'string' ? [m.content] : m.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])),
    )
    .join('\n');
}

/** The image parts' URLs of a request, in order. */
export function requestImages(body: ChatBody): string[] {
  return body.messages.flatMap((m) =>
    typeof m.content === 'string' ? [] : m.content.flatMap((p) => (p.type === 'image_url' ? [p.image_url.url] : [])),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OpenAiStandIn {
  readonly requests: Recorded[] = [];
  /** Chooses the reply to each chat completion; `n` counts them from 0. */
  reply: (body: ChatBody, n: number) => Reply = () => ({ text: 'A photo of something on a table.' });
  private chats = 0;
  private active = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(): Promise<OpenAiStandIn> {
    const server = createServer();
    const standIn = new OpenAiStandIn(server);
    server.on('request', (req, res) => {
      let data = '';
      req.on('data', (chunk: Buffer) => (data += chunk));
      req.on('end', () => void standIn.answer(req.method ?? '', req.url ?? '', req.headers, data, res));
    });
    server.on('connection', (socket) => {
      standIn.sockets.add(socket);
      socket.on('close', () => standIn.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standIn;
  }

  /** Base URL for clients, e.g. `http://127.0.0.1:PORT/v1`. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  get chatRequests(): ChatBody[] {
    return this.requests.flatMap((r) => (r.body ? [r.body] : []));
  }

  reset(): void {
    this.requests.length = 0;
    this.chats = 0;
    this.reply = () => ({ text: 'A photo of something on a table.' });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }

  private async answer(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    data: string,
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    if (method === 'GET' && path === '/v1/models') {
      this.requests.push({ method, path, headers, concurrent: this.active });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ object: 'list', data: [{ id: STAND_IN_MODEL, object: 'model' }] }));
      return;
    }
    if (method !== 'POST' || path !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(data) as ChatBody;
    this.active++;
    this.requests.push({ method, path, headers, body, concurrent: this.active });
    res.on('close', () => this.active--);
    const reply = this.reply(body, this.chats++);
    if ('hang' in reply) return;
    if ('drop' in reply) {
      res.socket?.destroy();
      return;
    }
    if ('status' in reply) {
      await sleep(reply.delayMs ?? 0);
      const retry = reply.retryAfterS !== undefined ? { 'retry-after': String(reply.retryAfterS) } : {};
      res
        .writeHead(reply.status, { 'content-type': 'application/json', ...retry })
        .end(JSON.stringify({ error: { message: `stand-in error ${reply.status}` } }));
      return;
    }
    const base = { id: `chatcmpl-${this.chats}`, created: Math.floor(Date.now() / 1000), model: body.model };
    if (!body.stream) {
      await sleep(reply.delayMs ?? 0);
      const choice = {
        index: 0,
        message: { role: 'assistant', content: reply.text },
        finish_reason: reply.finishReason ?? 'stop',
      };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ...base, object: 'chat.completion', choices: [choice] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta: object, finish: string | null) => {
      const choices = [{ index: 0, delta, finish_reason: finish }];
      return `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices })}\n\n`;
    };
    for (const [i, word] of reply.text.split(/(?<= )/).entries()) {
      if (i === reply.stallAfterWords) return;
      await sleep(reply.delayMs ?? 0);
      if (res.destroyed) return;
      res.write(chunk({ content: word }, null));
    }
    res.end(`${chunk({}, reply.finishReason ?? 'stop')}data: [DONE]\n\n`);
  }
}
