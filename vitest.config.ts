import { defineConfig } from 'vitest/config';

const lane = (names: string[]) => names.map((n) => `tests/${n}.test.ts`);
/** Pure logic, fakes and small local files (at most a LanceDB in a temp folder): no model, no server. */
const unit = lane([
  'client-types',
  'closest-regions',
  'conditioning',
  'cpu-flags',
  'face-decisions',
  'float16',
  'intake',
  'lifecycle',
  'locks',
  'moments',
  'multipart',
  'naming',
  'one-subject',
  'open-world-set',
  'priority',
  'refinements',
  'service',
  'subject',
  'subject-box',
  'user-cache',
  'zoom',
]);
/** Real models (ONNX, the generated tiny CLIP and SmolVLM), a real LanceDB, in this process. */
const integration = lane([
  'clip',
  'close-calls',
  'detector',
  'encoder',
  'faces',
  'fetch-models',
  'heads',
  'library-text',
  'open-world',
  'ort',
  'recognition',
  'reference-cells',
  'refinement',
  'store',
  'store-crash',
  'vlm-local',
  'vlm-openai',
  'vlm-select',
]);
// The region bank that every runtime of the integration and end-to-end lanes opens, built once per run.
const bank = ['tests/support/region-bank.ts'];

export default defineConfig({
  test: {
    // Real models on a 2-core machine: files run two at a time and a slow test is not a hung one.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // A poll waits on model work (indexing, retraining): a busy 2-core machine can take longer than vitest's 1 s.
    expect: { poll: { timeout: 30_000 } },
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      { extends: true, test: { name: 'integration', include: integration, globalSetup: bank } },
      // Everything else, new files included: servers, crashes, scale-out, Redis, S3, the browser.
      {
        extends: true,
        test: { name: 'e2e', include: ['tests/**/*.test.ts'], exclude: [...unit, ...integration], globalSetup: bank },
      },
    ],
  },
});
