/**
 * The `nomen` command line (built by `npm run build`), spawned as a user runs it against the built server on the
 * real models: concepts from photo files, recognition, captions, a video's moments, the photo library and its
 * corrections, --json, the API's errors.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { dogClip, KEY, photoPath, useNomenServer } from './support/nomen-server.js';

const CLI = path.resolve(import.meta.dirname, '../dist/cli/nomen.js');
const nomen = useNomenServer('cli');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'nomen-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `nomen ...args` with the server's URL and key in its environment (or only `env`, when given). */
function cli(args: string[], env: Record<string, string> = { NOMEN_URL: nomen.url, NOMEN_KEY: KEY }): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('the nomen command line', () => {
  it('registers a concept from photo files and lists it, as text and as JSON', async () => {
    const dogs = [0, 1, 2].map((n) => photoPath('dog', n));
    const added = await cli(['concepts', 'add', 'Biscuit', '--user', 'alice', '--category', 'dog', ...dogs]);
    expect(added, added.stderr).toMatchObject({ code: 0 });
    expect(added.stdout).toMatch(/^registered Biscuit \([0-9a-f-]{36}\): (refining|ready), quality/);
    expect(added.stderr).toMatch(/uploading 3 photos \(\d+\.\d MB\)/);
    const listed = await cli(['concepts', 'list', '--user', 'alice', '--json']);
    expect(JSON.parse(listed.stdout).concepts.map((c: { name: string }) => c.name)).toEqual(['Biscuit']);
    expect(listed.stderr).toBe('');
    expect((await cli(['concepts', 'list', '--user', 'alice'])).stdout).toMatch(/\tBiscuit\tdog\t/);
  });

  it('says the API error in its own words, and a command line mistake with the usage', async () => {
    const taken = await cli(['concepts', 'add', 'biscuit', '--user', 'alice', photoPath('dog', 3)]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/\nnomen: .*biscuit.* \(name_taken, HTTP 409\)\n$/i);
    const noKey = await cli(['concepts', 'list', '--user', 'alice'], { NOMEN_URL: nomen.url });
    expect(noKey.stderr).toMatch(/\(unauthorized, HTTP 401\)/);
    const noUser = await cli(['concepts', 'list']);
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toMatch(/--user[\s\S]*usage: nomen/);
    const down = await cli(['concepts', 'list', '--user', 'a', '--url', 'http://127.0.0.1:9', '--key', KEY], {});
    expect(down).toMatchObject({ code: 1, stderr: expect.stringMatching(/^nomen: cannot reach http:\/\/127.0.0.1:9/) });
  });

  it('recognises and captions a photo with the flags instead of the environment', async () => {
    const flags = ['--user', 'alice', '--url', nomen.url, '--key', KEY];
    const recognized = await cli(['recognize', photoPath('dog', 4), ...flags], {});
    expect(recognized.stdout).toMatch(/^Biscuit\t0\.\d\d\tpresent\tbox [\d.]+,[\d.]+,[\d.]+,[\d.]+\n$/);
    nomen.standIn.reply = () => ({ text: 'A dog sits on the grass.' });
    const caption = await cli(['caption', photoPath('dog', 4), ...flags], {});
    expect(caption.stdout).toMatch(/Biscuit/);
    const streamed = await cli(['ask', photoPath('dog', 4), 'Who', 'is', 'this?', '--stream', ...flags], {});
    expect(streamed).toMatchObject({ stdout: expect.stringMatching(/Biscuit/), stderr: 'A dog sits on the grass.\n' });
  });

  it('indexes a video with a progress bar and lists the moments of the concept', async () => {
    const clip = await dogClip(tmp);
    const added = await cli(['videos', 'add', clip, '--user', 'alice']);
    expect(added.stderr).toMatch(/\[#{30}\] 100% uploaded of clip\.mp4\n[\s\S]*\[#{30}\] 100% ready\n$/);
    const id = /^([0-9a-f-]{36}): ready/.exec(added.stdout)?.[1];
    expect(id, added.stdout).toBeDefined();
    const moments = await cli(['videos', 'moments', id!, 'biscuit', '--user', 'alice', '--json']);
    expect(JSON.parse(moments.stdout).moments[0].start).toBeGreaterThanOrEqual(2);
    expect((await cli(['videos', 'rm', id!, '--user', 'alice'])).stdout).toBe(`deleted video ${id}\n`);
  });

  it('indexes a folder of photos in batches, finds a concept in them, corrects it and undoes it', async () => {
    const dir = path.join(tmp, 'library');
    mkdirSync(dir);
    copyFileSync(photoPath('dog', 3), path.join(dir, 'dog 3.jpg'));
    copyFileSync(photoPath('dog', 4), path.join(dir, 'dog#4.JPG'));
    copyFileSync(photoPath('teapot', 0), path.join(dir, 'teapot.jpg'));
    writeFileSync(path.join(dir, 'notes.txt'), 'not a photo');
    writeFileSync(path.join(dir, 'broken.png'), 'not a png either');
    // 99 small plain photos more take the folder past one request's 100.
    for (let n = 0; n < 99; n++) {
      const background = { r: n * 2, g: 255 - n * 2, b: (n * 7) % 256 };
      await sharp({ create: { width: 64, height: 48, channels: 3, background } })
        .png()
        .toFile(path.join(dir, `plain-${n}.png`));
    }
    const added = await cli(['photos', 'add', dir, '--user', 'carol']);
    expect(added.stderr).toMatch(/\[#{30}\] 100% uploaded of 103 photos \(\d+\.\d MB\)\n/);
    expect(added.stderr).toMatch(/\[#{30}\] 100% indexed\n/);
    expect(added.stderr).toMatch(/\nnomen: could not index broken: .+\n$/);
    expect({ code: added.code, stdout: added.stdout }).toEqual({ code: 1, stdout: 'indexed 102 photos for carol\n' });
    const again = await cli(['photos', 'add', path.join(dir, 'dog 3.jpg'), '--user', 'carol', '--json']);
    expect(JSON.parse(again.stdout).jobs).toMatchObject([{ status: 'ready', total: 1, errors: [] }]);
    expect(again).toMatchObject({ code: 0, stderr: '' });

    const dogs = [0, 1, 2].map((n) => photoPath('dog', n));
    expect((await cli(['concepts', 'add', 'Rex', '--user', 'carol', ...dogs])).code).toBe(0);
    // Refining retrains the head, which moves the scores: the pages below are compared once it is done.
    const status = async () => JSON.parse((await cli(['concepts', 'show', 'Rex', '--user', 'carol', '--json'])).stdout);
    await expect.poll(async () => (await status()).status, { timeout: 60_000, interval: 300 }).toBe('ready');
    const found = await cli(['photos', 'find', 'rex', '--user', 'carol']);
    expect(found.stdout).toMatch(/^dog_4\t0\.\d\d\tbox [\d.]+,[\d.]+,[\d.]+,[\d.]+\n/m);
    expect(found.stdout).not.toMatch(/teapot|plain/);
    const top = await cli(['photos', 'find', 'Rex', '--all', '--limit', '2', '--user', 'carol', '--json']);
    const page = JSON.parse(top.stdout);
    expect(page.photos.map((p: { id: string }) => p.id).sort()).toEqual(['dog_3', 'dog_4']);
    const more = await cli(['photos', 'find', 'Rex', '--all', '--limit', '2', '--user', 'carol']);
    expect(more.stderr).toBe(`more: --cursor ${page.next}\n`);
    const text = await cli(['photos', 'find', 'Rex', '--text', 'on a sofa', '--user', 'carol']);
    expect(text).toMatchObject({ code: 1, stderr: expect.stringMatching(/\(unprocessable, HTTP 422\)\n$/) });

    const wrong = await cli(['feedback', 'add', 'Rex', 'dog_4', '--not', '--user', 'carol']);
    expect(wrong.stdout).toMatch(/^[0-9a-f-]{36}: Rex is not in dog_4, retrained\n$/);
    const id = wrong.stdout.slice(0, 36);
    expect((await cli(['photos', 'find', 'Rex', '--user', 'carol'])).stdout).not.toMatch(/dog_4/);
    const listed = await cli(['feedback', 'list', 'Rex', '--user', 'carol']);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\tdog_4\tnot\tbox [\\d.,]+\t\\d{4}-`));
    expect((await cli(['feedback', 'rm', 'Rex', id, '--user', 'carol'])).stdout).toBe(`undid ${id}, Rex retrained\n`);
    expect((await cli(['feedback', 'list', 'Rex', '--user', 'carol'])).stdout).toBe('no corrections of Rex\n');
    expect((await cli(['photos', 'find', 'Rex', '--user', 'carol'])).stdout).toMatch(/dog_4/);
    const neither = await cli(['feedback', 'add', 'Rex', 'dog_4', '--user', 'carol']);
    expect(neither).toMatchObject({ code: 2, stderr: expect.stringMatching(/one of --not and --is/) });

    expect((await cli(['photos', 'rm', 'dog_3', '--user', 'carol'])).stdout).toBe('deleted photo dog_3\n');
    const gone = await cli(['photos', 'rm', 'dog_3', '--user', 'carol']);
    expect(gone).toMatchObject({ code: 1, stderr: expect.stringMatching(/^nomen: .+ \(not_found, HTTP 404\)\n$/) });
    expect((await cli(['users', 'rm', '--user', 'carol'])).code).toBe(0);
  });

  it('renames and deletes the concept by name', async () => {
    expect((await cli(['concepts', 'rename', 'biscuit', 'Rex', '--user', 'alice'])).stdout).toBe('renamed to Rex\n');
    expect((await cli(['concepts', 'rm', 'Rex', '--user', 'alice'])).stdout).toBe('deleted Rex\n');
    expect((await cli(['concepts', 'list', '--user', 'alice'])).stdout).toBe('alice has no concepts\n');
    expect((await cli(['concepts', 'rm', 'Rex', '--user', 'alice'])).stderr).toBe(
      'nomen: alice has no concept "Rex"\n',
    );
  });
});
