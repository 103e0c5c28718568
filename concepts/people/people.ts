/**
 * Person concepts through the face path: their example photos' faces (one per photo) are learned, and photos are
 * recognised face by face. The faces of the example photos are all that is kept of faces; a recognised photo's
 * faces are compared in memory and dropped.
 */
import type { DecodedImage, FaceModel, PixelBox } from '../../models/types.js';
import { DomainError } from '../errors.js';
import { toRelativeBox } from '../intake/intake.js';
import type { FaceRecord, FaceStore } from '../storage/face-store.js';
import type { ConceptRecord } from '../storage/store-records.js';
import type { Match, Scope, Timings } from '../types.js';
import { matrixRow, stack } from '../matrix.js';
import type { UserHeads } from '../recognition/recognize.js';
import type { UserState } from '../user-cache.js';
import type { FaceBank } from './face-bank.js';
import { calibratePerson, exampleFace, nameFaces, type PersonCalibration } from './faces.js';

/** What the `encoder` of a person concept's row starts with: its vectors are the face model's, not the encoder's. */
const FACE_ENCODER = 'faces:';

export const FACES_OFF =
  'person concepts are learned and recognised by their faces, which are off on this server: the operator turns ' +
  'them on with NOMEN_FACES=on (faces are biometric data; docs/people.md says what is kept)';

/** A face of an example photo before it belongs to a concept. */
export type PhotoFace = Omit<FaceRecord, 'conceptId'>;

export function isFaceConcept(record: Pick<ConceptRecord, 'encoder'>): boolean {
  return record.encoder.startsWith(FACE_ENCODER);
}

/** Per stacked heads of a user, the same without its persons' rows (kept while the user's copy in memory is). */
const objectHeads = new WeakMap<UserHeads, UserHeads>();

/** A user's heads without its persons' rows: their heads are blank, their faces decide. */
export function withoutPersons(heads: UserHeads, persons: ConceptRecord[]): UserHeads {
  if (persons.length === 0) return heads;
  const known = objectHeads.get(heads);
  if (known) return known;
  const { ids, names, weights, bias, thresholds } = heads;
  const keep = ids.flatMap((id, i) => (persons.some((p) => p.id === id) ? [] : [i]));
  const rows = keep.map((i) => matrixRow(weights, i));
  const kept = {
    ids: keep.map((i) => ids[i]),
    names: keep.map((i) => names[i]),
    weights: stack(rows, weights.cols),
    bias: Float32Array.from(keep, (i) => bias[i]),
    thresholds: Float64Array.from(keep, (i) => thresholds[i]),
  };
  objectHeads.set(heads, kept);
  return kept;
}

export class People {
  /**
   * `faces` absent: faces are off; stored face vectors can still be deleted. `tenants`, when not empty, are the only
   * ones faces are on for.
   */
  constructor(
    readonly store: FaceStore,
    private readonly faces?: { model: FaceModel; bank: FaceBank; tenants?: ReadonlySet<string> },
  ) {}

  allows(tenant: string): boolean {
    return this.faces !== undefined && (!this.faces.tenants?.size || this.faces.tenants.has(tenant));
  }

  /** Throws the 422 that says why this tenant cannot have people. */
  assertAllowed(tenant: string): void {
    if (!this.faces) throw new DomainError('unprocessable', FACES_OFF);
    if (!this.allows(tenant))
      throw new DomainError(
        'unprocessable',
        'person concepts are learned and recognised by their faces, which this server turns on for some tenants ' +
          'only: the operator adds this one to NOMEN_FACES_TENANTS',
      );
  }

  /** The face model, when faces are on (evaluations time it). */
  get model(): FaceModel | undefined {
    return this.faces?.model;
  }

  get bankSize(): number {
    return this.faces?.bank.vectors.length ?? 0;
  }

  /** For the concept row's `encoder`: the face model that made its vectors. */
  get encoder(): string {
    return FACE_ENCODER + this.on().model.name;
  }

  /**
   * The person's face in each photo (422 without one, see faces.ts exampleFace), or in negative photos every face;
   * photos numbered from `first`.
   */
  async photoFaces(
    photos: { image: DecodedImage; box?: PixelBox }[],
    negative: boolean,
    first = 0,
  ): Promise<PhotoFace[]> {
    const { model } = this.on();
    const found: PhotoFace[] = [];
    for (const [i, { image, box }] of photos.entries()) {
      const detected = await model.detect(image);
      const faces = negative ? detected : [exampleFace(detected, i + 1, box)];
      const vectors = await model.embed(image, faces);
      found.push(
        ...faces.map((f, k) => ({
          negative,
          photo: first + i,
          box: toRelativeBox(f.box, image),
          width: f.box.w,
          vector: vectors[k],
        })),
      );
    }
    return found;
  }

  /** The threshold held above the bank's faces and the person's negative faces, and the quality of its examples. */
  calibrate(faces: PhotoFace[]): PersonCalibration {
    const positives = faces.filter((f) => !f.negative);
    const strangers = [...this.on().bank.vectors, ...faces.filter((f) => f.negative).map((f) => f.vector)];
    return calibratePerson(
      positives.map((f) => f.vector),
      strangers,
      positives.map((f) => f.width),
    );
  }

  /**
   * One match per person concept of the user (present or not), each with the face it was scored on; none when faces
   * are off or the user has no person. Adds the time it took to `timings.faces`.
   */
  async recognize(scope: Scope, image: DecodedImage, user: UserState, timings: Timings): Promise<Match[]> {
    const persons = user.concepts.filter(isFaceConcept);
    if (!this.faces || persons.length === 0 || !this.allows(scope.tenant)) return [];
    const started = performance.now();
    const { model } = this.faces;
    const [examples, faces] = await Promise.all([this.examples(scope, user), model.detect(image)]);
    const vectors = await model.embed(image, faces);
    const named = nameFaces(
      vectors,
      persons.map((p) => ({ id: p.id, threshold: p.threshold, examples: examples.get(p.id) ?? [] })),
    );
    timings.faces = performance.now() - started;
    return persons.map((p, j) => {
      const { face, score, present } = named[j];
      const box = face >= 0 ? toRelativeBox(faces[face].box, image) : ([0, 0, 1, 1] as Match['box']);
      return { id: p.id, name: p.name, score, present, box };
    });
  }

  /** A person's example faces (not its negatives), for scoring faces stored elsewhere: video frames, library photos. */
  async examplesOf(scope: Scope, user: UserState, person: ConceptRecord): Promise<Float32Array[]> {
    this.assertAllowed(scope.tenant);
    return (await this.examples(scope, user)).get(person.id) ?? [];
  }

  /** Every face stored for the concept at its committed `version`, negatives included. */
  stored(scope: Scope, id: string, version: number): Promise<FaceRecord[]> {
    return this.store.load(scope, new Map([[id, version]]));
  }

  async close(): Promise<void> {
    await this.faces?.model.dispose();
    this.store.close();
  }

  deleteConcept(scope: Scope, id: string): Promise<void> {
    return this.store.deleteConcept(scope, id);
  }

  deleteUser(scope: Scope): Promise<void> {
    return this.store.deleteUser(scope);
  }

  private on(): { model: FaceModel; bank: FaceBank } {
    if (!this.faces) throw new DomainError('unprocessable', FACES_OFF);
    return this.faces;
  }

  /**
   * The example faces of the user's persons, read once per copy of the user in memory: every write of the user (a
   * person's photos added, a concept or the user deleted), here or in another process, replaces that copy
   * (user-cache.ts).
   */
  private async examples(scope: Scope, user: UserState): Promise<Map<string, Float32Array[]>> {
    if (user.faces) return user.faces;
    const persons = user.concepts.filter(isFaceConcept);
    const rows = await this.store.load(scope, new Map(persons.map((p) => [p.id, p.version])));
    const examples = new Map<string, Float32Array[]>();
    for (const r of rows.filter((r) => !r.negative))
      examples.set(r.conceptId, [...(examples.get(r.conceptId) ?? []), r.vector]);
    user.faces = examples;
    return examples;
  }
}
