/**
 * /console in a real browser (Debian's chromium through playwright-core) against the built server on the real
 * models: register from shared photos, recognise with the box drawn, caption through the OpenAI-protocol stand-in,
 * a video's timeline, photos indexed for the library and every photo of Biscuit in it, "not Biscuit" on a match
 * and on a library photo, rename, delete, the API's errors; on a desktop and a phone width.
 * Screenshots are kept in test-artifacts/.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dogClip, KEY, photoPath, useNomenServer } from './support/nomen-server.js';

const artifacts = path.resolve(import.meta.dirname, '../test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const nomen = useNomenServer('console');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'nomen-console-test-'));

describe('the console in a browser', () => {
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const errors: string[] = [];
  let scriptBytes = 0;
  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `console-${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    // Error answers the tests ask for are logged as failed loads; CSP refusals and exceptions are not.
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load') && errors.push(m.text()));
    page.on('response', async (r) => {
      if (r.request().resourceType() === 'script') scriptBytes += (await r.body()).length;
    });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('connects with a key and a user, and shows the API error for a wrong key in its words', async () => {
    await page.goto(`${nomen.url}/console`);
    await page.getByLabel('API key').fill('wrong-key');
    await page.getByLabel('User', { exact: true }).fill('alice');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/\(unauthorized\)$/);
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByText('No concepts yet.').waitFor();
    expect(await page.getByRole('alert').isHidden()).toBe(true);
  });

  it('registers a concept from photos with a box drawn on one, and shows its status and quality', async () => {
    await page.getByLabel('Name').fill('Biscuit');
    await page.getByLabel('Category').fill('dog');
    await page.locator('#examples').setInputFiles([0, 1, 2].map((n) => photoPath('dog', n)));
    expect(await page.locator('.thumb').count()).toBe(3);
    await page.getByLabel(/^Box on the selected photo/).fill('2,0,1');
    await page.getByLabel(/^Box on the selected photo/).press('Tab');
    const boxError = page.getByRole('alert').filter({ hasText: 'A box is four fractions' });
    await boxError.waitFor();
    await page.locator('.stage').first().scrollIntoViewIfNeeded();
    const stage = await page.locator('.stage').first().boundingBox();
    await page.mouse.move(stage!.x + 2, stage!.y + 2);
    await page.mouse.down();
    await page.mouse.move(stage!.x + stage!.width - 2, stage!.y + stage!.height - 2, { steps: 5 });
    await page.mouse.up();
    expect(await page.getByLabel(/^Box on the selected photo/).inputValue()).toMatch(/^0\.0\d,0\.0\d,0\.9\d,0\.9\d$/);
    expect(await boxError.isHidden()).toBe(true);
    await shot('register');
    await page.getByRole('button', { name: 'Register' }).click();
    await expect
      .poll(() => page.locator('#register-status').textContent(), { timeout: 60_000 })
      .toMatch(/^Biscuit: ready, quality (good|weak)/);
    const item = page.locator('.concept', { hasText: 'Biscuit' });
    await expect.poll(() => item.locator('.status').textContent()).toBe('ready');
    const crop = item.locator('img.ref');
    await crop.waitFor();
    expect(await crop.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  });

  it('recognises a photo with the match box drawn on it, then captions and asks about it', async () => {
    await page.locator('#photo').setInputFiles(photoPath('dog', 4));
    await page.getByRole('button', { name: 'Recognise' }).click();
    const box = page.locator('.stage .box.match');
    await box.waitFor();
    expect(await box.textContent()).toMatch(/^Biscuit 0\.\d\d$/);
    const drawn = await box.boundingBox();
    expect(drawn!.width).toBeGreaterThan(20);
    expect(await page.locator('#matches li').first().textContent()).toMatch(/^Biscuit: 0\.\d\d present, box /);
    await shot('recognize');
    nomen.standIn.reply = () => ({ text: 'A dog sits on the grass.' });
    await page.getByRole('button', { name: 'Caption' }).click();
    await expect.poll(() => page.locator('#answer').textContent()).toMatch(/Biscuit/);
    await page.getByLabel('Question').fill('Who is this?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await expect.poll(() => nomen.standIn.requests.length).toBeGreaterThan(1);
    await expect.poll(() => page.locator('#answer').textContent()).toMatch(/Biscuit/);
    await shot('caption');
  });

  it('indexes a video and shows the concept on its timeline', async () => {
    const clip = await dogClip(tmp);
    await page.locator('#video').setInputFiles(clip);
    const moment = page.getByRole('group', { name: 'Biscuit in the video' }).getByRole('button').first();
    await moment.waitFor({ timeout: 60_000 });
    expect(await moment.getAttribute('aria-label')).toMatch(/^Biscuit [\d.]+ s to [\d.]+ s, score 0\.\d\d$/);
    const track = await page.locator('.track').first().boundingBox();
    // The dog is on screen from 3 s of 9: its moment starts right of the track's first third's start.
    expect((await moment.boundingBox())!.x).toBeGreaterThan(track!.x + track!.width / 4);
    await moment.click();
    expect(await page.locator('video').evaluate((v: HTMLVideoElement) => v.currentTime)).toBeGreaterThan(2);
    await shot('video');
  });

  it('indexes photos for the library, lists every photo of Biscuit, and corrects one and undoes it', async () => {
    const files = [
      ['dog', 3],
      ['dog', 4],
      ['teapot', 0],
    ].map(([subject, n]) => {
      const file = path.join(tmp, `${subject}-${n}.jpg`);
      copyFileSync(photoPath(String(subject), Number(n)), file);
      return file;
    });
    await page.locator('#library-files').setInputFiles(files);
    await expect.poll(() => page.locator('#library-status').textContent()).toBe('indexed 3 of 3 photos');
    expect(await page.locator('#library-progress').evaluate((p: HTMLProgressElement) => p.value)).toBe(1);
    await page.getByRole('combobox', { name: /^Concept/ }).selectOption({ label: 'Biscuit' });
    await page.getByRole('button', { name: 'Find photos' }).click();
    const dogs = page.locator('#library-photos li[data-id^="dog-"]');
    await dogs.first().waitFor();
    expect(await page.locator('#library-photos li[data-id^="teapot"]').count()).toBe(0);
    const first = dogs.first();
    const id = await first.getAttribute('data-id');
    expect(await first.textContent()).toMatch(new RegExp(`^0\\.\\d\\d${id}: 0\\.\\d\\d, box `));
    expect((await first.locator('.box.match').boundingBox())!.width).toBeGreaterThan(10);
    await shot('library');
    await page.getByRole('button', { name: `not Biscuit: ${id}` }).click();
    await expect
      .poll(() => page.locator('#library-status').textContent())
      .toBe(`Biscuit learned that ${id} is not it. Undo`);
    expect(await page.locator(`#library-photos li[data-id="${id}"]`).count()).toBe(0);
    await page.locator('#library-status').getByRole('button', { name: 'Undo' }).click();
    await page.locator(`#library-photos li[data-id="${id}"]`).waitFor();
    expect(await page.locator('#library-status').textContent()).toBe(`undone: ${id} is back for Biscuit`);
    await page.getByLabel('every score').check();
    await page.getByRole('button', { name: 'Find photos' }).click();
    await page.locator('#library-photos li[data-id="teapot-0"]').waitFor();
  });

  it('marks a match as "not Biscuit": the concept gains a negative', async () => {
    await page.getByRole('button', { name: 'Recognise' }).click();
    await page.getByRole('button', { name: 'Not Biscuit', exact: true }).click();
    await expect.poll(() => page.locator('#answer').textContent()).toMatch(/^Biscuit learned that this is not it/);
    await page.locator('.concept', { hasText: '1 negatives' }).waitFor();
  });

  it('is usable at a phone width, by keyboard', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await page.getByLabel('new name for Biscuit').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Rename');
    await shot('phone');
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('renames and deletes the concept, showing a refused name as the API says it', async () => {
    await page.getByLabel('new name for Biscuit').fill('');
    await page.getByRole('button', { name: 'Rename' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/\(invalid_request\)$/);
    await page.getByLabel('new name for Biscuit').fill('Rex');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.locator('.concept-name', { hasText: 'Rex' }).waitFor();
    await page.getByRole('button', { name: 'delete Rex' }).click();
    await page.getByText('No concepts yet.').waitFor();
  });

  it('loaded under 200 KB of script and asked nothing of another origin', () => {
    expect(scriptBytes).toBeGreaterThan(0);
    expect(scriptBytes).toBeLessThan(200_000);
    expect(requests.filter((u) => !u.startsWith(nomen.url) && !u.startsWith('blob:'))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
