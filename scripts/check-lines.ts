/**
 * Fails on any tracked TypeScript line over 120 columns, which the formatter cannot break (long literals). Counted in
 * UTF-8 bytes, as byte-based tools count them: a line of math symbols is held to the same limit everywhere.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean);
const long = files.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      const width = Buffer.byteLength(line);
      return width > LIMIT ? [`${f}:${i + 1}: ${width} columns`] : [];
    }),
);
for (const l of long) console.error(l);
if (long.length > 0) process.exitCode = 1;
