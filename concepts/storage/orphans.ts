/**
 * The sweep of what interrupted saves and deletes left behind. Views are the trace: a view whose concept row is
 * missing or older than the view was never committed, and neither were the crops of its photo.
 */
import type { Table } from '@lancedb/lancedb';
import type { BlobStore } from './blob-store.js';
import { conceptPrefix, cropKey } from './blob-keys.js';
import { withCommitRetry } from './commit-retry.js';
import { and, eq, greaterThan, lessThan, scopeWhere } from './sql.js';
import { USER_ROW_CAP } from './store-records.js';
import type { Scope } from '../types.js';

const conceptKey = (tenant: string, user: string, id: string) => JSON.stringify([tenant, user, id]);

export interface StoreTables {
  concepts: Table;
  views: Table;
  crops: BlobStore;
}

/** Removes orphan views older than `olderThanMs` and their crops; returns the number of view rows removed. */
export async function sweepOrphans(tables: StoreTables, olderThanMs: number): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  const versions = new Map<string, number>();
  // Plain queries have no default limit: these scans read every row.
  for await (const batch of tables.concepts.query().select(['tenant', 'user', 'id', 'version'])) {
    const [tenant, user, id, version] = ['tenant', 'user', 'id', 'version'].map((n) => batch.getChild(n)!);
    for (let i = 0; i < batch.numRows; i++)
      versions.set(conceptKey(tenant.get(i), user.get(i), id.get(i)), version.get(i));
  }
  const orphans = new Map<
    string,
    { scope: Scope; conceptId: string; version: number | undefined; photos: Set<number> }
  >();
  const columns = ['tenant', 'user', 'concept_id', 'concept_version', 'photo'];
  for await (const batch of tables.views.query().where(lessThan('written_at_ms', cutoff)).select(columns)) {
    const [tenant, user, conceptId, conceptVersion, photo] = columns.map((n) => batch.getChild(n)!);
    for (let i = 0; i < batch.numRows; i++) {
      const key = conceptKey(tenant.get(i), user.get(i), conceptId.get(i));
      const version = versions.get(key);
      if (version !== undefined && version >= conceptVersion.get(i)) continue;
      let orphan = orphans.get(key);
      if (!orphan)
        orphans.set(
          key,
          (orphan = {
            scope: { tenant: tenant.get(i), user: user.get(i) },
            conceptId: conceptId.get(i),
            version,
            photos: new Set(),
          }),
        );
      orphan.photos.add(photo.get(i));
    }
  }
  let removed = 0;
  for (const o of orphans.values()) {
    // Crops first, views last: the views are what lead a later sweep back here if this one is cut short.
    if (o.version === undefined) await tables.crops.deletePrefix(conceptPrefix(o.scope, o.conceptId));
    else {
      const kept = await visiblePhotos(tables, o.scope, o.conceptId, o.version);
      for (const photo of o.photos)
        if (!kept.has(photo)) await tables.crops.delete(cropKey(o.scope, o.conceptId, photo));
    }
    const own = and(scopeWhere(o.scope), eq('concept_id', o.conceptId), lessThan('written_at_ms', cutoff));
    const where = o.version === undefined ? own : and(own, greaterThan('concept_version', o.version));
    removed += (await withCommitRetry(() => tables.views.delete(where))).numDeletedRows;
  }
  return removed;
}

/** Photos of a concept that still have visible views: their crops stay. */
async function visiblePhotos(
  tables: StoreTables,
  scope: Scope,
  conceptId: string,
  version: number,
): Promise<Set<number>> {
  const where = and(scopeWhere(scope), eq('concept_id', conceptId));
  const t = await tables.views.query().where(where).select(['photo', 'concept_version']).limit(USER_ROW_CAP).toArrow();
  const [photo, conceptVersion] = [t.getChild('photo'), t.getChild('concept_version')];
  const photos = new Set<number>();
  for (let i = 0; i < t.numRows; i++) if (conceptVersion!.get(i) <= version) photos.add(photo!.get(i));
  return photos;
}
