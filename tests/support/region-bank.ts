/**
 * Vitest global setup: one region bank for the whole run, built from the shared distractors by `npm run bank` into a
 * folder of its own, so that every runtime and server the tests start (they read NOMEN_BANK_DIR) opens it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export default function setup(): () => void {
  // The integration and end-to-end lanes both ask for it; in one run the second finds it built.
  if (process.env.NOMEN_TEST_BANK) return () => undefined;
  const bankDir = mkdtempSync(path.join(os.tmpdir(), 'nomen-test-bank-'));
  process.env.NOMEN_BANK_DIR = bankDir;
  process.env.NOMEN_TEST_BANK = '1';
  process.env.NOMEN_BANK_PHOTOS = path.resolve(repoRoot, '../shared/data/distractors');
  process.env.NOMEN_MODELS ??= path.resolve(repoRoot, '../shared/models');
  execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-bank.ts'], { cwd: repoRoot, stdio: 'inherit' });
  return () => rmSync(bankDir, { recursive: true, force: true });
}
