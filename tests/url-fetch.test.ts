/**
 * Images by URL: refused for internal addresses (after DNS, redirects included), cut at the size limit and the
 * deadline. Only loopback is ever contacted: the other internal addresses are judged without any traffic.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDataDir, defaultModelsDir } from '../scripts/lib/dreambooth.js';
import { createApp } from '../services/api/app.js';
import { isPublicAddress, UrlFetcher } from '../services/api/url-fetch.js';
import { type Config, loadConfig } from '../services/config.js';
import { openRuntime, type Runtime } from '../services/runtime.js';

describe('isPublicAddress', () => {
  it('passes public unicast only', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e'])
      expect(isPublicAddress(a), a).toBe(true);
    const internal = [
      '127.0.0.1',
      '127.1.2.3',
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.1',
      '240.0.0.1',
      '192.0.2.1',
      '::',
      '::1',
      'fe80::1',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
      '64:ff9b::a00:1',
      '2002:a00:1::',
      '2001:db8::1',
      'not an address',
    ];
    for (const a of internal) expect(isPublicAddress(a), a).toBe(false);
  });
});

describe('UrlFetcher', () => {
  let server: Server;
  let base: string;
  const image = Buffer.alloc(2000, 7);

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/image') return res.end(image);
      if (req.url === '/big') return res.end(Buffer.alloc(5000));
      if (req.url === '/big-chunked') {
        res.write(Buffer.alloc(3000));
        return res.end(Buffer.alloc(3000));
      }
      if (req.url === '/missing') return res.writeHead(404).end();
      if (req.url === '/hang') return;
      if (req.url === '/to-image') return res.writeHead(302, { Location: '/image' }).end();
      if (req.url === '/to-metadata')
        return res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (req.url === '/to-ipv6-loopback')
        return res.writeHead(302, { Location: `http://[::1]:${(server.address() as AddressInfo).port}/image` }).end();
      if (req.url === '/loop') return res.writeHead(302, { Location: '/loop' }).end();
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const fetcher = (allow: string[] = [], timeoutMs = 2000) => new UrlFetcher({ maxBytes: 4000, timeoutMs, allow });
  const refused = async (f: UrlFetcher, url: string, code: string, message?: RegExp) => {
    const err = await f.fetch(url).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code, `${url}: ${err?.message}`).toBe(code);
    if (message) expect(err!.message).toMatch(message);
  };

  it('refuses loopback by address and by name, and schemes other than http(s)', async () => {
    const f = fetcher();
    const port = new URL(base).port;
    for (const url of [
      `${base}/image`,
      `http://localhost:${port}/image`,
      `http://[::1]:${port}/image`,
      `http://127.1:${port}/image`,
      `http://2130706433:${port}/image`,
    ]) {
      await refused(f, url, 'invalid_request', /internal address/);
    }
    await refused(f, 'file:///etc/passwd', 'invalid_request', /http and https/);
    await refused(f, `http://user:pass@127.0.0.1:${port}/image`, 'invalid_request', /credentials/);
    await refused(f, 'not a url', 'invalid_request');
  });

  it('fetches from ranges configured as allowed, following redirects', async () => {
    const f = fetcher(['127.0.0.1/32']);
    expect(Buffer.from(await f.fetch(`${base}/image`))).toEqual(image);
    expect(Buffer.from(await f.fetch(`${base}/to-image`))).toEqual(image);
  });

  it('checks every redirect: one to an internal address is refused', async () => {
    const f = fetcher(['127.0.0.1/32']);
    await refused(f, `${base}/to-metadata`, 'invalid_request', /169\.254\.169\.254/);
    await refused(f, `${base}/to-ipv6-loopback`, 'invalid_request', /::1/);
    await refused(f, `${base}/loop`, 'unprocessable', /redirects/);
  });

  it('cuts bodies at the size limit, declared or not, and the whole fetch at the deadline', async () => {
    const f = fetcher(['127.0.0.1/32'], 500);
    await refused(f, `${base}/big`, 'too_large');
    await refused(f, `${base}/big-chunked`, 'too_large');
    await refused(f, `${base}/missing`, 'unprocessable', /404/);
    const started = Date.now();
    await refused(f, `${base}/hang`, 'unprocessable', /within 500 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('configuration', () => {
  it('is off unless NOMEN_ALLOW_URL_FETCH says so; allowed ranges must be CIDR', () => {
    expect(loadConfig({}, () => '').urlFetch).toBeUndefined();
    expect(loadConfig({ NOMEN_ALLOW_URL_FETCH: 'true' }, () => '').urlFetch).toEqual({ timeoutMs: 5000, allow: [] });
    expect(
      loadConfig(
        {
          NOMEN_ALLOW_URL_FETCH: '1',
          NOMEN_URL_FETCH_ALLOW: '10.1.0.0/16, fd00::/8',
          NOMEN_URL_FETCH_TIMEOUT_MS: '800',
        },
        () => '',
      ).urlFetch,
    ).toEqual({
      timeoutMs: 800,
      allow: ['10.1.0.0/16', 'fd00::/8'],
    });
    expect(() => loadConfig({ NOMEN_ALLOW_URL_FETCH: '1', NOMEN_URL_FETCH_ALLOW: '10.1.0.0' }, () => '')).toThrow(
      /CIDR/,
    );
  });
});

describe('{url} images through the API', () => {
  let runtime: Runtime;
  let config: Config;
  let dataDir: string;
  let photos: Server;
  let photoUrl: string;
  let requests = 0;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'nomen-url-'));
    config = loadConfig(
      {
        NOMEN_DATA: dataDir,
        NOMEN_MODELS: process.env.NOMEN_MODELS ?? defaultModelsDir,
        NOMEN_BANK_DIR: process.env.NOMEN_BANK_DIR!,
      },
      () => '',
    );
    runtime = await openRuntime(config);
    const dog = await readFile(join(defaultDataDir, 'dog', '00.jpg'));
    photos = createServer((_req, res) => (requests++, res.end(dog)));
    await new Promise<void>((r) => photos.listen(0, '127.0.0.1', r));
    photoUrl = `http://127.0.0.1:${(photos.address() as AddressInfo).port}/dog.jpg`;
  }, 120_000);

  afterAll(async () => {
    await runtime?.close();
    await new Promise((r) => photos?.close(r));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const post = (urlFetch: Config['urlFetch'], path: string, json: unknown) =>
    createApp({
      service: runtime.service,
      config: { ...config, urlFetch },
      ready: async () => ({ ok: true, checks: {} }),
    }).request(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(json),
    });

  it('registers and recognizes from a URL where allowed; refuses loopback by default without contacting it; answers ' +
    '400 when off', async () => {
    const allowed = { timeoutMs: 5000, allow: ['127.0.0.1/32'] };
    expect((await post(allowed, '/v1/users/u/concepts', { name: 'Dog', images: [{ url: photoUrl }] })).status).toBe(
      201,
    );
    const found = await post(allowed, '/v1/users/u/recognize', { image: { url: photoUrl } });
    expect((await found.json()).concepts.map((m: { name: string }) => m.name)).toEqual(['Dog']);
    expect(requests).toBe(2);

    const internal = await post({ timeoutMs: 5000, allow: [] }, '/v1/users/u/recognize', { image: { url: photoUrl } });
    expect(internal.status).toBe(400);
    expect((await internal.json()).error.message).toMatch(/internal address/);
    const off = await post(undefined, '/v1/users/u/recognize', { image: { url: photoUrl } });
    expect(off.status).toBe(400);
    expect((await off.json()).error.message).toMatch(/url is off/);
    expect(requests).toBe(2);

    for (const image of [{}, { data: 'AAAA', url: photoUrl }])
      expect((await post(allowed, '/v1/users/u/recognize', { image })).status).toBe(400);
  }, 60_000);
});
