/**
 * Request and response schemas shared by the routes: what the OpenAPI document shows and what requests are checked
 * against.
 */
import { z } from '@hono/zod-openapi';
import { PHOTO_ID } from '../../concepts/library/library.js';

const userName = () =>
  z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/, 'must be 1 to 128 characters of A-Z a-z 0-9 . _ @ -');

export const UserId = userName().openapi({ param: { name: 'user', in: 'path' }, example: 'alice@example.com' });

/** The user named in a body rather than in the path. */
export const UserField = userName().openapi({
  description: 'the end user whose concepts apply',
  example: 'alice@example.com',
});

// Ids are lower-case UUIDs; an upper-case spelling still finds its concept.
export const ConceptId = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a concept id (a UUID)')
  .transform((s) => s.toLowerCase())
  .openapi({ param: { name: 'id', in: 'path' }, format: 'uuid', type: 'string' });

export const UserParams = z.object({ user: UserId });
export const ConceptParams = z.object({ user: UserId, id: ConceptId });

export const Box = z
  .array(z.number().min(0).max(1))
  .length(4)
  .openapi('Box', {
    description: '[x, y, w, h] in fractions of the image width and height',
    example: [0.1, 0.2, 0.5, 0.6],
  });

/** One of `data` and `url` is required: checked where images are read, so that the schema stays an object. */
export const ImageData = z
  .object({
    data: z.string().optional().openapi({ description: 'base64, or a data:image/...;base64, URL' }),
    url: z
      .string()
      .max(4096)
      .optional()
      .openapi({ description: 'an http(s) URL to fetch the image from, where the server allows it (off by default)' }),
    box: Box.optional(),
  })
  .openapi('ImageData');

/** A multipart file part (validated as a `File`, documented as binary). */
export const FilePart = z
  .custom<File>((v) => v instanceof File, { message: 'must be a file part' })
  .openapi({ type: 'string', format: 'binary' });

/** Where an image comes from: base64 text of a JSON body or a file part of a multipart body. */
export type ImageSource = { data?: string; url?: string; box?: number[] } | { file: File; box?: number[] };

const trimmed = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);

export const ConceptName = trimmed(100).min(1, 'must not be empty').openapi({ example: 'Biscuit' });
export const Category = trimmed(100).openapi({
  example: 'dog',
  description:
    'person (also man, woman, child...) learns and recognises a person by their face, one per photo (a box picks ' +
    'it among several); the server needs NOMEN_FACES=on for that, else 422',
});
export const Description = trimmed(2000);

export const Concept = z
  .object({
    id: z.string().openapi({ format: 'uuid' }),
    name: z.string(),
    category: z.string(),
    description: z.string(),
    imageCount: z.number().int(),
    negativeCount: z.number().int(),
    threshold: z.number().openapi({
      description:
        'score at and above which the concept counts as present, unless another concept takes its place in the ' +
        'photo (one place, one subject; a look-alike that a closer look prefers)',
    }),
    nameThreshold: z.number().openapi({
      description:
        'score at and above which /caption, /ask and /chat/completions call the concept by its name (at least ' +
        'threshold: a wrong name is worse than none)',
    }),
    status: z.enum(['refining', 'ready']).openapi({
      description:
        'refining: registered and recognised already, by a first head trained on the whole photos, while the subject ' +
        'crops, region probes and every head of the user are made in the background (about a second); ready: done',
    }),
    quality: z.object({ level: z.enum(['good', 'weak']), reasons: z.array(z.string()) }).openapi({
      description:
        'weak: the concept is recognised conservatively (its threshold stays above what ordinary photos score); ' +
        'reasons say what to add (a box, closer photos, photos that agree)',
    }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Concept');

export const Match = z
  .object({
    id: z.string().openapi({ format: 'uuid' }),
    name: z.string(),
    score: z.number().min(0).max(1),
    present: z.boolean(),
    box: Box,
  })
  .openapi('Match');

export const Recognition = z
  .object({
    concepts: z.array(Match),
    timings: z.record(z.string(), z.number()).openapi({ description: 'milliseconds by stage' }),
  })
  .openapi('Recognition');

export const VideoParams = z.object({
  user: UserId,
  id: z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a video id (a UUID)')
    .transform((s) => s.toLowerCase())
    .openapi({ param: { name: 'id', in: 'path' }, format: 'uuid', type: 'string' }),
});

export const Video = z
  .object({
    id: z.string().openapi({ format: 'uuid' }),
    status: z.enum(['queued', 'processing', 'ready', 'failed']),
    progress: z.number().min(0).max(1).openapi({ description: 'fraction of the video indexed' }),
    durationS: z.number().openapi({ description: 'length of the video in seconds' }),
    frames: z.number().int().openapi({ description: 'frames indexed so far' }),
    fps: z.number().openapi({ description: 'frames sampled per second (scene changes add more)' }),
    error: z.string().optional().openapi({ description: 'why indexing failed' }),
  })
  .openapi('Video');

export const Moment = z
  .object({
    start: z.number().openapi({ description: 'seconds from the start of the video' }),
    end: z.number(),
    score: z.number().min(0).max(1).openapi({ description: "mean of the concept's score over the moment" }),
    peak: z.number().openapi({ description: 'when the score is highest, in seconds' }),
  })
  .openapi('Moment');

export const PhotoId = z
  .string()
  .regex(PHOTO_ID, 'must be a photo id: 1 to 128 characters of A-Z a-z 0-9 . _ @ -')
  .openapi({ example: 'IMG_0042.jpg' });

export const PhotoParams = z.object({ user: UserId, id: PhotoId.openapi({ param: { name: 'id', in: 'path' } }) });

export const LibraryPhoto = z
  .object({
    id: PhotoId,
    score: z.number().min(0).max(1).openapi({ description: "the concept's score on the photo's best region" }),
    box: Box,
  })
  .openapi('LibraryPhoto');

export const Feedback = z
  .object({
    id: z.string().openapi({ format: 'uuid' }),
    photo: PhotoId.optional().openapi({ description: 'the library photo corrected' }),
    correct: z.boolean(),
    box: Box.openapi({ description: 'the region of the photo the correction took' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Feedback');

/** A path parameter holding an id this server made (a lower-case UUID). */
export const UuidParam = (name: string, what: string) =>
  z
    .string()
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `must be ${what} (a UUID)`)
    .openapi({ param: { name, in: 'path' }, format: 'uuid', type: 'string' });

export const FeedbackParams = z.object({
  user: UserId,
  id: ConceptId,
  feedback: UuidParam('feedback', 'a correction id'),
});
