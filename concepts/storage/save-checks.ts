/** What a save must hold to keep the store consistent: one scope, storable ids, vectors of the store's size. */
import { checkId } from './blob-keys.js';
import type { ConceptRecord, ViewRecord } from './store-records.js';
import type { Scope } from '../types.js';

/** Validates a save; returns the version each concept id is saved with. */
export function checkSave(
  dim: number,
  scope: Scope,
  records: ConceptRecord[],
  views: ViewRecord[],
  blobs: { conceptId: string; photo: number }[],
): Map<string, number> {
  const inScope = (r: { tenant: string; user: string }) => r.tenant === scope.tenant && r.user === scope.user;
  const versions = new Map<string, number>();
  for (const r of records) {
    if (!inScope(r)) throw new Error('concept record outside the scope of the save');
    checkId(r.id);
    if (versions.has(r.id)) throw new Error(`concept ${r.id} given twice`);
    if (r.headWeights.length !== dim)
      throw new Error(`head of ${r.id} has ${r.headWeights.length} weights, expected ${dim}`);
    if (!Number.isInteger(r.version) || r.version < 0) throw new Error(`bad version of ${r.id}: ${r.version}`);
    versions.set(r.id, r.version);
  }
  const photos = new Set<string>();
  for (const v of views) {
    if (!inScope(v)) throw new Error('view outside the scope of the save');
    if (!versions.has(v.conceptId)) throw new Error(`view of ${v.conceptId}, which is not among the saved concepts`);
    if (v.vector.length !== dim) throw new Error(`view vector has ${v.vector.length} values, expected ${dim}`);
    if (!Number.isInteger(v.photo) || v.photo < 0) throw new Error(`bad photo index: ${v.photo}`);
    photos.add(JSON.stringify([v.conceptId, v.photo]));
  }
  for (const c of blobs)
    if (!photos.has(JSON.stringify([c.conceptId, c.photo])))
      throw new Error(`crop or original of ${c.conceptId} photo ${c.photo} has no new view`);
  return versions;
}
