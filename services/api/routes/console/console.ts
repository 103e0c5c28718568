/**
 * GET /console: the web console, a page over the API for developers trying nomen. Its script and styles are what
 * `npm run build` writes to dist/console; nothing loads from another origin.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Api } from '../../context.js';
import { errorJson } from '../../errors.js';

/** dist/console beside the package.json above this file, from the sources and from the built server alike. */
function assetsDir(): string {
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'console');
}

const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>nomen console</title>
  <link rel="stylesheet" href="/console/assets/console.css">
  <script type="module" src="/console/assets/console.js"></script>
</head>
<body><noscript>The nomen console needs JavaScript.</noscript></body>
</html>
`;

// Images and videos are the user's own files, shown through blob: URLs; every request goes to this origin.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src blob:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerConsole(app: Api): void {
  const dir = assetsDir();
  const cache = new Map<string, Promise<Buffer>>();
  app.get('/console', (c) => c.html(PAGE, 200, { 'Content-Security-Policy': CSP }));
  app.get('/console/assets/:file', async (c) => {
    const file = c.req.param('file');
    const type = ASSETS[file];
    if (!type) return c.notFound();
    if (!existsSync(path.join(dir, file)))
      return errorJson(c, 404, 'not_found', `the console is not built here: run npm run build (${file} is missing)`);
    let bytes = cache.get(file);
    if (!bytes) cache.set(file, (bytes = readFile(path.join(dir, file))));
    return c.body(new Uint8Array(await bytes), 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  });
}
