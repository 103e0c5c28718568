/**
 * Video indexing at length: speed, memory, and what it does to recognition served at the same time.
 *
 * Makes a one-minute clip from the shared photos (12 shots of 5 s, zoom and pan, 1280x720 at 25 fps), repeats
 * it by stream copy into one video of `--minutes` minutes, and indexes that through the video service while
 * nothing else runs; then indexes the one-minute clip while one client sends /recognize requests back to back.
 * Samples the RSS of this process (models, LanceDB, the job) and of ffmpeg every 250 ms. Memory is flat when
 * the peak over the second half of the long video is no higher than over the first; any rise, per hour of
 * video, extrapolates the peak to a one-hour video (a shorter run than an hour is extrapolated, not measured).
 * Usage: npm run bench:video [-- --minutes 10 --fps 2]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { defaultVideoOptions } from '../concepts/video/video-options.js';
import { createApp } from '../services/api/app.js';
import { LOCAL_TENANT } from '../services/api/auth.js';
import { loadConfig } from '../services/config.js';
import { cpuSeconds } from './lib/cpu.js';
import { defaultDataDir, loadSubjects } from './lib/dreambooth.js';
import { makeVideo, type Motion } from './lib/make-video.js';
import { percentile } from './lib/metrics.js';
import { openScriptRuntime } from './lib/runtime.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    fps: { type: 'string', default: String(defaultVideoOptions.fps) },
  },
});

const run = promisify(execFile);
const MB = 1024 * 1024;

/** Resident memory of ffmpeg children of this process, in bytes (Linux /proc). */
async function childRss(): Promise<number> {
  let total = 0;
  for (const pid of (await readdir('/proc').catch(() => [])).filter((p) => /^\d+$/.test(p))) {
    const status = await readFileSafe(`/proc/${pid}/status`);
    if (!status || !new RegExp(`^PPid:\\s*${process.pid}$`, 'm').test(status) || !/^Name:\s*ffmpeg/m.test(status))
      continue;
    total += Number(/^VmRSS:\s*(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

async function readFileSafe(p: string): Promise<string | undefined> {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

async function main() {
  const minutes = Number(args.minutes);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'nomen-bench-video-'));
  const subjects = loadSubjects(defaultDataDir, 3);
  const motions: Motion[] = ['zoom-in', 'pan-left', 'zoom-out', 'pan-right'];
  const shots = subjects
    .slice(0, 12)
    .map((s, i) => ({ photo: s.query[0], seconds: 5, motion: motions[i % motions.length] }));
  const minute = path.join(dir, 'minute.mp4');
  const long = path.join(dir, 'long.mp4');
  await makeVideo(shots, minute, { width: 1280, height: 720, fps: 25 });
  await writeFile(path.join(dir, 'list.txt'), Array.from({ length: minutes }, () => "file 'minute.mp4'").join('\n'));
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    path.join(dir, 'list.txt'),
    '-c',
    'copy',
    long,
  ]);

  const runtime = await openScriptRuntime(path.join(dir, 'data'));
  // The tenant of every caller when no API keys are configured, as here.
  const scope = { tenant: LOCAL_TENANT, user: 'bench-user' };
  try {
    for (const s of subjects.slice(0, 4))
      await runtime.service.register(scope, {
        name: s.name,
        category: s.category,
        images: s.train.map((f) => ({ bytes: readFileSync(f) })),
      });
    await runtime.service.refined();
    // Through the HTTP app in process, as a client's request would go: indexing gives way to it.
    const config = loadConfig({ NOMEN_RATE_LIMIT: '0' }, () => '');
    const app = createApp({
      service: runtime.service,
      videos: runtime.videos,
      config,
      ready: async () => ({ ok: true, checks: {} }),
    });
    const body = JSON.stringify({ image: { data: readFileSync(subjects[0].query[0]).toString('base64') }, all: true });
    const recognize = async () => {
      const t = performance.now();
      const res = await app.request(`/v1/users/${scope.user}/recognize`, {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/json' },
      });
      if (res.status !== 200) throw new Error(`recognize answered ${res.status}: ${await res.text()}`);
      return performance.now() - t;
    };
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) idle.push(await recognize());
    const rssBefore = process.memoryUsage().rss;

    /** Uploads `file` and waits until it is indexed, sampling memory; `alongside` runs until then. */
    const index = async (file: string, alongside?: () => Promise<unknown>) => {
      const started = performance.now();
      const cpuStart = cpuSeconds();
      const video = await runtime.videos.add(scope, file, Number(args.fps));
      const samples: { x: number; rss: number; ffmpeg: number }[] = [];
      let status = video.status;
      const sampler = setInterval(async () => {
        const v = await runtime.videos.get(scope, video.id);
        status = v.status;
        samples.push({ x: v.progress, rss: process.memoryUsage().rss, ffmpeg: await childRss() });
      }, 250);
      while (status === 'queued' || status === 'processing')
        await (alongside?.() ?? new Promise((r) => setTimeout(r, 100)));
      clearInterval(sampler);
      const done = await runtime.videos.get(scope, video.id);
      if (done.status !== 'ready') throw new Error(`indexing ended ${done.status}: ${done.error}`);
      return { done, samples, seconds: (performance.now() - started) / 1000, cpu: cpuSeconds() - cpuStart };
    };

    const { done, samples, seconds, cpu } = await index(long);
    const t = performance.now();
    const moments = await runtime.videos.moments(scope, done.id, subjects[0].name);
    const momentsMs = performance.now() - t;
    // Recognition while a one-minute video indexes: the client sends requests back to back.
    const busy: number[] = [];
    const alongside = await index(minute, async () => busy.push(await recognize()));

    // Flat memory: the highest RSS of the second half of the video no higher than that of the first half.
    const durationH = done.durationS / 3600;
    const peakOf = (half: (x: number) => boolean) =>
      Math.max(...samples.filter((s) => half(s.x)).map((s) => s.rss)) / MB;
    const [first, second] = [peakOf((x) => x < 0.5), peakOf((x) => x >= 0.5)];
    const growth = (second - first) / (durationH / 2);
    const peak = Math.max(first, second);
    const ffmpegPeak = Math.max(...samples.map((s) => s.ffmpeg)) / MB;
    const atHour = peak + Math.max(0, growth) * Math.max(0, 1 - durationH);
    const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(0)} ms, p95 ${percentile(xs, 95).toFixed(0)} ms`;

    console.log(
      `nomen video bench: ${(done.durationS / 60).toFixed(1)} min of 1280x720 at 25 fps, ` +
        `indexed at ${args.fps} fps + scene changes (${done.frames} frames), ` +
        `${os.availableParallelism()} CPUs, load average ${os.loadavg()[0].toFixed(1)}`,
    );
    console.log(
      `indexing: ${seconds.toFixed(1)} s, ${(done.durationS / seconds).toFixed(1)}x real time; CPU ${cpu.toFixed(0)} ` +
        `s (${((cpu / done.durationS) * 1000).toFixed(0)} ms per second of video, ffmpeg included)`,
    );
    console.log(
      `recognize one photo: idle ${fmt(idle)}; while indexing ${fmt(busy)} (${busy.length} requests; the one-minute ` +
        `clip then took ${alongside.seconds.toFixed(1)} s)`,
    );
    console.log(
      `RSS: ${(rssBefore / MB).toFixed(0)} MB before; peak ${first.toFixed(0)} MB over the first half of the video, ` +
        `${second.toFixed(0)} MB over the second (${growth.toFixed(0)} MB per hour of video); ffmpeg peak ` +
        `${ffmpegPeak.toFixed(0)} MB`,
    );
    console.log(
      `one-hour video, extrapolated: peak ${atHour.toFixed(0)} MB + ffmpeg ${ffmpegPeak.toFixed(0)} MB; ` +
        `${atHour + ffmpegPeak <= 600 ? 'meets' : 'MISSES'} the 600 MB target`,
    );
    console.log(`moments of one concept over the whole video: ${momentsMs.toFixed(0)} ms, ${moments.length} moments`);
  } finally {
    await runtime.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
