/**
 * A server process killed (SIGKILL) while it registers a concept, or refines one in the background, leaves no
 * half concept: after a restart on the same data every listed concept is refined, reads, is recognized, and has
 * all its photos; none is partly there.
 */
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultDataDir, defaultModelsDir } from '../scripts/lib/dreambooth.js';
import { startServer, type ServerProcess } from '../scripts/lib/server-process.js';
import { loadConfig } from '../services/config.js';
import { openRuntime } from '../services/runtime.js';

const SUBJECTS = [
  'dog',
  'cat',
  'backpack',
  'teapot',
  'can',
  'candle',
  'duck_toy',
  'berry_bowl',
  'fancy_boot',
  'rc_car',
];
/**
 * When to kill: milliseconds after the request body was sent (decoding, embedding, training), the moment a
 * new file appears in a folder of the data (a step of the write: view data, the views' commit, a crop, the
 * concept rows' data, their commit), or at the answer, while the concept's refinement runs in the background.
 */
const KILL_AT: (number | string)[] = [
  0,
  150,
  'views.lance/data',
  'views.lance/_versions',
  'crops',
  'concepts.lance/data',
  'concepts.lance/_versions',
  'answered',
  300,
];
const USER = 'crash';

let dataDir: string;
const env = () => ({
  NOMEN_DATA: dataDir,
  NOMEN_MODELS: process.env.NOMEN_MODELS ?? defaultModelsDir,
  NOMEN_COMPACT_INTERVAL_S: '0',
  NOMEN_API_KEYS: '',
  NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
});
const photos = (subject: string) =>
  Promise.all(
    [0, 1, 2].map(async (n) => (await readFile(join(defaultDataDir, subject, `0${n}.jpg`))).toString('base64')),
  );

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'nomen-crash-'));
});

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Sends a registration; resolves once its body is on the wire, with the answer's status (or 0 if cut off) to come. */
function sendRegistration(server: ServerProcess, name: string, images: string[]): Promise<{ answer: Promise<number> }> {
  const body = JSON.stringify({ name, images: images.map((data) => ({ data })) });
  return new Promise((sent) => {
    let answered!: (status: number) => void;
    const answer = new Promise<number>((done) => (answered = done));
    const req = request(`${server.url}/v1/users/${USER}/concepts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    });
    req.on('response', (res) => {
      res.resume();
      answered(res.statusCode ?? 0);
    });
    req.on('error', () => answered(0));
    req.end(body, () => sent({ answer }));
  });
}

const files = (dir: string): number => {
  try {
    return readdirSync(dir, { recursive: true }).length;
  } catch {
    return 0;
  }
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the exit code once the child is gone. */
function kill(server: ServerProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
  return new Promise((done) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return done(server.child.exitCode);
    server.child.once('exit', (code) => done(code));
    server.child.kill(signal);
  });
}

async function json(
  server: ServerProcess,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

/** The concepts listed once none is refining: a refinement cut short by the kill runs again after the restart. */
async function listRefined(server: ServerProcess): Promise<{ status: number; body: any }> {
  for (const started = Date.now(); ; await sleep(50)) {
    const list = await json(server, 'GET', `/v1/users/${USER}/concepts`);
    if (
      list.status !== 200 ||
      list.body.concepts.every((c: { status: string }) => c.status === 'ready') ||
      Date.now() - started > 30_000
    )
      return list;
  }
}

/** Every listed concept is refined, reads, has its 3 photos and is scored by recognition; returns the names listed. */
async function checkConsistent(server: ServerProcess, query: string): Promise<string[]> {
  const list = await listRefined(server);
  expect(list.status).toBe(200);
  expect(list.body.concepts.filter((c: { status: string }) => c.status !== 'ready')).toEqual([]);
  const recognized = await json(server, 'POST', `/v1/users/${USER}/recognize`, { image: { data: query }, all: true });
  expect(recognized.status).toBe(200);
  const scored = new Set(recognized.body.concepts.map((m: { id: string }) => m.id));
  for (const concept of list.body.concepts) {
    const one = await json(server, 'GET', `/v1/users/${USER}/concepts/${concept.id}`);
    expect(one).toEqual({ status: 200, body: concept });
    expect(concept.imageCount).toBe(3);
    expect(scored.has(concept.id)).toBe(true);
  }
  return list.body.concepts.map((c: { name: string }) => c.name);
}

it('leaves every registration whole or absent, at several kill timings', async () => {
  const query = (await photos('dog'))[2];
  let server = await startServer(env());
  const landed = new Set<string>();
  try {
    for (const [round, at] of KILL_AT.entries()) {
      const name = `${SUBJECTS[round]}-${round}`;
      const images = await photos(SUBJECTS[round]);
      // Counted before the request, so that no step of the write is missed; polled, since the writer is another
      // process.
      const watched = typeof at === 'string' && at !== 'answered' ? join(dataDir, at) : '';
      const before = files(watched);
      const { answer } = await sendRegistration(server, name, images);
      let answered = false;
      void answer.then(() => (answered = true));
      if (typeof at === 'number') await sleep(at);
      else if (at === 'answered') await answer;
      else while (!answered && files(watched) === before) await sleep(1);
      await kill(server);
      // A 201 that reached us before the kill is a promise kept: that concept must survive.
      if ((await answer) === 201) landed.add(name);
      server = await startServer(env());
      const names = await checkConsistent(server, query);
      for (const n of landed) expect(names).toContain(n);
    }
    // The store still takes writes after all that.
    const last = await sendRegistration(server, 'after', await photos(SUBJECTS[SUBJECTS.length - 1]));
    expect(await last.answer).toBe(201);
    expect(await checkConsistent(server, query)).toContain('after');
  } finally {
    await kill(server);
  }
  // What the kills left behind is invisible; sweeping it keeps every listed concept's reference crops.
  const runtime = await openRuntime(loadConfig(env(), () => ''));
  try {
    await runtime.store.sweepOrphans({ olderThanMs: 0 });
    const scope = { tenant: 'local', user: USER };
    const concepts = await runtime.service.list(scope);
    for (const c of concepts)
      for (const photo of [0, 1, 2])
        expect(await runtime.store.readCrop(scope, c.id, photo), `${c.name} crop ${photo}`).toBeDefined();
  } finally {
    await runtime.close();
  }
}, 300_000);

it('finishes a registration in flight on SIGTERM, then exits 0', async () => {
  let server = await startServer(env());
  const { answer } = await sendRegistration(server, 'graceful', await photos('rc_car'));
  await sleep(50);
  expect(await kill(server, 'SIGTERM')).toBe(0);
  expect(await answer).toBe(201);
  server = await startServer(env());
  try {
    expect(
      (await json(server, 'GET', `/v1/users/${USER}/concepts`)).body.concepts.map((c: { name: string }) => c.name),
    ).toContain('graceful');
  } finally {
    await kill(server);
  }
}, 120_000);
