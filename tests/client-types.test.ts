/** The client's committed types are what the app's OpenAPI document gives now: a route change needs a client change. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generatedSchema, SCHEMA_FILE } from '../clients/typescript/generate.js';

it('clients/typescript/schema.ts matches the OpenAPI document (npm run client:types writes it)', async () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(await generatedSchema());
});
