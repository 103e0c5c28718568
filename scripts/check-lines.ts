/** Fails on any tracked TypeScript line over 120 columns, which the formatter cannot break (long literals). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const files = execFileSync('git', ['ls-files', '*.ts'], { encoding: 'utf8' }).split('\n').filter(Boolean);
const long = files.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .flatMap((line, i) => ([...line].length > LIMIT ? [`${f}:${i + 1}: ${[...line].length} columns`] : [])),
);
for (const l of long) console.error(l);
if (long.length > 0) process.exitCode = 1;
