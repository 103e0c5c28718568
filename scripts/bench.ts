/**
 * Speed and memory of the recognition core, measured on the real server (a child process, as `npm start`
 * runs it) over loopback HTTP, with the configured models on this machine's CPUs.
 * Usage: npm run bench [-- --requests 40 --store-views 1000000 --store-users 100000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { OpenAiStandIn, STAND_IN_MODEL } from '../tests/support/openai-server.js';
import { benchCaption } from './bench-caption.js';
import { benchStore } from './bench-store.js';
import { defaultDataDir, defaultModelsDir, loadSubjects } from './lib/dreambooth.js';
import { percentile } from './lib/metrics.js';
import { sharedData } from './lib/open-world.js';
import { startServer } from './lib/server-process.js';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '40' },
    'store-views': { type: 'string', default: '1000000' },
    'store-users': { type: 'string', default: '100000' },
  },
});

const KEY = 'bench-key';
const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms`;
const verdict = (value: number, target: number) =>
  `${value <= target ? 'meets' : 'MISSES'} target ${target} (ratio ${(value / target).toFixed(2)})`;
const b64 = (bytes: Buffer) => bytes.toString('base64');

async function main() {
  const runs = Number(args.requests);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-bench-'));
  // Captions go to a stand-in VLM on loopback, so that what is measured is nomen's own part.
  const standIn = await OpenAiStandIn.start();
  const server = await startServer({
    NOMEN_DATA: dataDir,
    NOMEN_MODELS: process.env.NOMEN_MODELS ?? defaultModelsDir,
    NOMEN_API_KEYS: `${KEY}:bench`,
    NOMEN_VLM_URL: standIn.url,
    NOMEN_VLM_MODEL: STAND_IN_MODEL,
  });
  const base = `${server.url}/v1/users/bench-user`;
  const call = async (url: string, method: string, body?: unknown) => {
    const res = await fetch(url, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    });
    const json =
      res.status === 204
        ? {}
        : ((await res.json()) as {
            timings?: Record<string, number>;
            concepts?: { id: string; name: string; status: string }[];
          });
    if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const post = (url: string, body: unknown) => call(url, 'POST', body);
  const conceptNamed = async (user: string, name: string) =>
    (await call(`${user}/concepts`, 'GET')).concepts!.find((c) => c.name === name)!;
  // Registration answers before its concept is refined in the background: polled until every concept is.
  const allReady = async (user: string) => {
    while ((await call(`${user}/concepts`, 'GET')).concepts!.some((c) => c.status !== 'ready'))
      await new Promise((r) => setTimeout(r, 10));
  };
  try {
    console.log(
      `nomen bench: server ${server.url}, ${os.availableParallelism()} CPUs, models ` +
        `${process.env.NOMEN_MODELS ?? defaultModelsDir}`,
    );

    // Registration of 5 photos each, back to back, into a user who already has the subjects registered before.
    const subjects = loadSubjects(defaultDataDir, 5).filter((s) => s.train.length === 5);
    const images = (s: (typeof subjects)[number]) => s.train.map((f) => ({ data: b64(readFileSync(f)) }));
    const registerMs: number[] = [];
    const registerCpu: number[] = [];
    for (const s of subjects.slice(0, 12)) {
      const body = { name: s.name, category: s.category, images: images(s) };
      const t = performance.now();
      const cpu = server.cpuMs();
      await post(`${base}/concepts`, body);
      registerMs.push(performance.now() - t);
      registerCpu.push(server.cpuMs() - cpu);
    }
    const lastAnswer = performance.now();
    await allReady(base);
    console.log(
      `register 5 photos (user with 0-11 concepts), answered with a draft head: ${fmt(registerMs)}; ` +
        `${verdict(percentile(registerMs, 50), 300)}`,
    );
    console.log(
      `  server CPU time per registration: p50 ${percentile(registerCpu, 50).toFixed(0)} ms (all threads); all 12 ` +
        `refined ${(performance.now() - lastAnswer).toFixed(0)} ms after the last answer`,
    );
    // One registration on a quiet server, until its concept is refined (the full views, every head retrained).
    const readyMs: number[] = [];
    for (const s of subjects.slice(12, 15)) {
      const t = performance.now();
      await post(`${base}/concepts`, { name: s.name, category: s.category, images: images(s) });
      await allReady(base);
      readyMs.push(performance.now() - t);
      await call(`${base}/concepts/${(await conceptNamed(base, s.name)).id}`, 'DELETE');
      await allReady(base);
    }
    console.log(`  register 5 photos until refined, one at a time (user with 12 concepts): ${fmt(readyMs)}`);

    const photo768 = readFileSync(loadSubjects(defaultDataDir, 3)[0].query[0]);
    const photo12mp = await sharp(photo768).resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 92 }).toBuffer();
    const recognize = async (bytes: Buffer, n: number, user = base) => {
      const wall: number[] = [];
      const total: number[] = [];
      const embed: number[] = [];
      const closeCalls: number[] = [];
      const body = { image: { data: b64(bytes) }, all: true };
      await post(`${user}/recognize`, body);
      const cpu = server.cpuMs();
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const { timings } = await post(`${user}/recognize`, body);
        wall.push(performance.now() - t);
        total.push(timings!.total);
        embed.push(timings!.embed);
        closeCalls.push(timings!.closeCalls);
      }
      return { wall, total, embed, closeCalls, cpuMs: (server.cpuMs() - cpu) / n };
    };
    const small = await recognize(photo768, runs);
    const large = await recognize(photo12mp, Math.ceil(runs / 2));
    console.log(
      `recognize 768 px photo, 12 concepts: HTTP ${fmt(small.wall)}; in server ${fmt(small.total)}; ` +
        `${verdict(percentile(small.wall, 50), 100)}`,
    );
    console.log(`  server CPU time per recognition: ${small.cpuMs.toFixed(0)} ms (all threads)`);
    console.log(
      `recognize 12 MP JPEG (${(photo12mp.length / 1e6).toFixed(1)} MB): HTTP ${fmt(large.wall)}; in server ` +
        `${fmt(large.total)}; ${verdict(percentile(large.wall, 50), 250)}`,
    );
    console.log(
      `bare encoder on the same crops: ${fmt(small.embed)}; recognize / encoder = ` +
        `${(percentile(small.total, 50) / percentile(small.embed, 50)).toFixed(2)}`,
    );

    // Look-alike products of one brand: the photo's concept has a close call, settled by matching cells.
    const siblings = `${server.url}/v1/users/bench-siblings`;
    const products = loadSubjects(path.join(sharedData, 'objects'), 3);
    const named = ['alpro_fresh_soy_milk', 'alpro_vanilla_soyghurt', 'arla_ecological_medium_fat_milk'];
    for (const s of products.filter((p) => named.includes(p.name)))
      await post(`${siblings}/concepts`, { name: s.name, category: s.category, images: images(s) });
    await allReady(siblings);
    const alike = await recognize(
      readFileSync(products.find((p) => p.name === named[0])!.query.at(-1)!),
      runs,
      siblings,
    );
    console.log(
      `recognize a photo with a close call (3 look-alike products): HTTP ${fmt(alike.wall)}; in server ` +
        `${fmt(alike.total)}, of which the close call ${fmt(alike.closeCalls)}`,
    );

    const body = { image: { data: b64(photo768) } };
    const perClient = Math.ceil(runs / 2);
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < perClient; i++) await post(`${base}/recognize`, body);
      }),
    );
    const seconds = (performance.now() - t) / 1000;
    console.log(`throughput, 4 concurrent HTTP clients: ${((4 * perClient) / seconds).toFixed(1)} recognitions/s`);

    // ---- Personalised captions (issue 3) ----
    const c = await benchCaption({
      url: server.url,
      key: KEY,
      user: 'bench-user',
      photo: photo768,
      category: subjects[0].category,
      standIn,
      runs,
    });
    console.log(
      `caption 768 px photo, personalisation overhead (all but the VLM): in server p50 ${c.server[0].toFixed(1)} ms, ` +
        `p95 ${c.server[1].toFixed(1)} ms; ` +
        `over HTTP p50 ${c.http[0].toFixed(1)} ms; concept named: ${c.named}; ${verdict(c.server[0], 150)}`,
    );
    console.log(
      `  caption stages p50: ${Object.entries(c.stages)
        .map(([stage, ms]) => `${stage} ${ms.toFixed(1)}`)
        .join(', ')} ms`,
    );

    const rss = server.peakRssMb();
    console.log(`server peak RSS: ${rss.toFixed(0)} MB; ${verdict(rss, 500)}`);
  } finally {
    await server.stop();
    await standIn.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const views = Number(args['store-views']);
  if (views > 0) {
    const users = Number(args['store-users']);
    console.log(`LanceDB: generating ${views} views over ${users} users (takes minutes at 1M)...`);
    const f = await benchStore({ views, users });
    console.log(
      `LanceDB ${f.views} views / ${f.users} users, index ${f.indexes.join(', ')} ` +
        `(plan uses it: ${f.planUsesIndex}): ` +
        `user-filtered cosine search p50 ${f.search.p50.toFixed(1)} ms, p99 ${f.search.p99.toFixed(1)} ms; ` +
        `${verdict(f.search.p99, 20)}`,
    );
  }
}

await main();
