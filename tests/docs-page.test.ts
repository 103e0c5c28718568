/**
 * /docs in a real browser (Debian's chromium through playwright-core) against the real server: the API reference
 * renders its operations, and no request leaves the server's origin. The screenshot is kept in test-artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerProcess } from '../scripts/lib/server-process.js';
import { modelsDir } from './support/shared-data.js';

const repoRoot = path.resolve(import.meta.dirname, '..');
const artifacts = path.join(repoRoot, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('GET /docs in a browser', () => {
  let server: ServerProcess;
  let browser: Browser;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-docs-'));
    [server, browser] = await Promise.all([
      startServer({
        NOMEN_DATA: dataDir,
        NOMEN_MODELS: modelsDir,
      }),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('renders every operation of the OpenAPI document from the server alone', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    const operations = await page.locator('.opblock-summary-path').allTextContents();
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, object> };
    const documented = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    expect(operations.length).toBe(documented);
    expect(operations.map((o) => o.replace(/\u200b/g, ''))).toContain('/v1/users/{user}/recognize');
    expect(requests.filter((u) => !u.startsWith(server.url))).toEqual([]);
    expect(errors).toEqual([]);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'docs.png') });
  });
});
