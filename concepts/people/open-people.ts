/** Opens the face store, and when faces are on the face model and its bank: what person concepts run on. */
import { DEFAULT_FACE_MODELS, openFaceModel } from '../../models/load.js';
import { catalogEntry } from '../../models/catalog.js';
import type { ModelThreads } from '../../models/runtime/ort.js';
import type { IntakeLimits } from '../intake/intake.js';
import { FaceStore } from '../storage/face-store.js';
import type { ObjectStorage } from '../storage/object-storage.js';
import { type BankSource, photoFiles } from '../learning/region-bank-file.js';
import { faceBankIdentity, openFaceBank } from './face-bank.js';
import { People } from './people.js';

export interface PeopleConfig {
  dataUri: string;
  objectStorage?: ObjectStorage;
  modelsDir: string;
  limits: IntakeLimits;
  /** The face bank's file lives in the region bank's folder. */
  bank: Pick<BankSource, 'dir'>;
  faces?: { on: boolean; bankPhotos: string[]; tenants?: string[] };
}

/** The length of the face model's vectors: the face tables are made for it, with faces on or off. */
export function faceVectorSize(): number {
  const entry = catalogEntry(DEFAULT_FACE_MODELS.embedder);
  if (entry?.kind !== 'onnx-face-embedder') throw new Error('the catalog lacks the face embedding');
  return entry.dim;
}

/** The face store opens with faces off too, so that deleting a person still removes its face vectors. */
export async function openPeople(
  config: PeopleConfig,
  threads: ModelThreads,
  log: (message: string) => void,
): Promise<People> {
  const store = await FaceStore.open(config.dataUri, faceVectorSize(), config.objectStorage);
  if (!config.faces?.on) return new People(store);
  const model = await openFaceModel(threads, config.modelsDir);
  const files = await photoFiles(config.faces.bankPhotos);
  const identity = await faceBankIdentity(config.modelsDir, DEFAULT_FACE_MODELS, files);
  const bank = await openFaceBank(config.bank.dir, identity, model, files, config.limits, log).catch(async (err) => {
    await model.dispose();
    store.close();
    throw err;
  });
  if (bank.vectors.length === 0)
    log('the face bank is empty (NOMEN_FACE_BANK_PHOTOS): person thresholds rest on their floor alone');
  return new People(store, { model, bank, tenants: new Set(config.faces.tenants) });
}
