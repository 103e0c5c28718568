/**
 * Speed and memory of the recognition core, on this machine's CPUs with the configured models.
 * Usage: npm run bench [-- --store-views 1000000 --store-users 100000 --requests 40]
 */
import { serve } from '@hono/node-server';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeImage, defaultLimits } from '../concepts/intake.js';
import { proposeRegions } from '../concepts/regions.js';
import { createApp } from '../services/api/app.js';
import { DEFAULT_DETECTOR, DEFAULT_ENCODER, loadConfig } from '../services/config.js';
import { openRuntime } from '../services/runtime.js';
import { benchStore } from './bench-store.js';
import { defaultDataDir, defaultModelsDir, loadSubjects } from './lib/dreambooth.js';
import { percentile } from './lib/metrics.js';

const { values: args } = parseArgs({
  options: {
    'store-views': { type: 'string', default: '1000000' },
    'store-users': { type: 'string', default: '100000' },
    requests: { type: 'string', default: '40' },
  },
});

async function timed(runs: number, f: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return ms;
}

const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms`;
const verdict = (value: number, target: number) => `${value <= target ? 'meets' : 'MISSES'} target ${target} (ratio ${(value / target).toFixed(2)})`;

async function main() {
  const runs = Number(args.requests);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-bench-'));
  const modelsDir = process.env.NOMEN_MODELS ?? defaultModelsDir;
  const runtime = await openRuntime({
    dataUri: dataDir,
    modelsDir,
    encoder: process.env.NOMEN_ENCODER ?? DEFAULT_ENCODER,
    detector: process.env.NOMEN_DETECTOR ?? DEFAULT_DETECTOR,
    limits: defaultLimits,
  });
  const scope = { tenant: 'bench', user: 'bench-user' };
  const subjects = loadSubjects(defaultDataDir, 5);
  try {
    console.log(`nomen bench: encoder ${runtime.models.encoder.name}, detector ${runtime.models.detector?.name ?? 'none'}, ${os.availableParallelism()} CPUs`);

    // Registration of 5 photos, into a user who already has the other subjects.
    const registerMs: number[] = [];
    for (const s of subjects.slice(0, 12)) {
      const images = s.train.map((f) => ({ bytes: readFileSync(f) }));
      const t = performance.now();
      await runtime.service.create(scope, { name: s.name, category: s.category, images });
      registerMs.push(performance.now() - t);
    }
    console.log(`register 5 photos (user with 0-11 concepts): ${fmt(registerMs)}; ${verdict(percentile(registerMs, 50), 300)}`);

    const photo768 = readFileSync(subjects[0].query[0] ?? subjects[0].train[0]);
    const photo12mp = await sharp(photo768).resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
    await runtime.service.recognize(scope, photo768, true);
    const small = await timed(runs, () => runtime.service.recognize(scope, photo768, true));
    const large = await timed(Math.ceil(runs / 2), () => runtime.service.recognize(scope, photo12mp, true));
    console.log(`recognize 768 px photo: ${fmt(small)}; ${verdict(percentile(small, 50), 100)}`);
    console.log(`recognize 12 MP JPEG (${(photo12mp.length / 1e6).toFixed(1)} MB): ${fmt(large)}; ${verdict(percentile(large, 50), 250)}`);

    // The bare encoder on exactly the crops recognition embeds: what the rest of the pipeline costs on top.
    const { image } = await decodeImage(photo768, defaultLimits);
    const regions = await proposeRegions(image, runtime.models.detector);
    const bare = await timed(runs, () => runtime.models.encoder.embed(regions.map((r) => ({ image, box: r.box }))));
    console.log(
      `bare encoder, same ${regions.length} regions: ${fmt(bare)}; recognize / encoder = ${(percentile(small, 50) / percentile(bare, 50)).toFixed(2)}`,
    );

    // Throughput over HTTP with 4 concurrent clients.
    const config = loadConfig({ NOMEN_DATA: dataDir }, () => '');
    const app = createApp({ service: runtime.service, config, ready: async () => ({ ok: true, checks: {} }) });
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/users/${scope.user}/recognize`;
    const body = JSON.stringify({ image: { data: photo768.toString('base64') } });
    const perClient = Math.ceil(runs / 2);
    let failures = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < perClient; i++) {
          const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
          if (!res.ok) failures++;
          await res.arrayBuffer();
        }
      }),
    );
    const seconds = (performance.now() - t) / 1000;
    await new Promise((r) => server.close(r));
    console.log(`throughput, 4 concurrent HTTP clients: ${((4 * perClient) / seconds).toFixed(1)} recognitions/s (${failures} failures)`);
    const rssMb = process.resourceUsage().maxRSS / 1024;
    console.log(`peak RSS: ${rssMb.toFixed(0)} MB; ${verdict(rssMb, 500)}`);
  } finally {
    await runtime.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const views = Number(args['store-views']);
  if (views > 0) {
    const users = Number(args['store-users']);
    console.log(`LanceDB: generating ${views} views over ${users} users (takes minutes at 1M)...`);
    const f = await benchStore({ views, users });
    console.log(
      `LanceDB ${f.views} views / ${f.users} users, index ${f.indexes.join(', ')} (plan uses it: ${f.planUsesIndex}): ` +
        `user-filtered cosine search p50 ${f.search.p50.toFixed(1)} ms, p99 ${f.search.p99.toFixed(1)} ms; ${verdict(f.search.p99, 20)}`,
    );
  }
}

await main();
