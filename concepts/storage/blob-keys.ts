/** Where a concept's blobs live: keys under a hash of tenant and user, never a name a user chose. */
import { createHash } from 'node:crypto';
import type { Scope } from '../types.js';

/** Ids become file names; they are generated upstream, this only keeps a bad one off the disk. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function checkId(id: string): void {
  if (!SAFE_ID.test(id)) throw new Error(`concept id not storable: ${JSON.stringify(id)}`);
}

/** Crops live under a hash of tenant and user: names that users choose never become paths. */
export function userPrefix(scope: Scope): string {
  return createHash('sha256')
    .update(JSON.stringify([scope.tenant, scope.user]))
    .digest('hex');
}

export function conceptPrefix(scope: Scope, conceptId: string): string {
  return `${userPrefix(scope)}/${conceptId}`;
}

export function cropKey(scope: Scope, conceptId: string, photo: number): string {
  return `${conceptPrefix(scope, conceptId)}/${photo}.jpg`;
}

export function originalKey(scope: Scope, conceptId: string, photo: number): string {
  return `${conceptPrefix(scope, conceptId)}/originals/${photo}`;
}
