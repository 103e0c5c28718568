/** `nomen`, the command line over the TypeScript client: concepts, recognition, captions, videos and photos. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type Answer,
  type Caption,
  type Concept,
  type Feedback,
  fromFile,
  type LibraryPhoto,
  type Match,
  NomenClient,
  NomenError,
} from '../typescript/node.js';
import { photoFiles } from './photo-files.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage: nomen <command> [options]

  concepts add NAME PHOTO...   register a concept (--category, --description, --box x,y,w,h for the first photo)
  concepts list                the user's concepts
  concepts show CONCEPT        one concept (CONCEPT: its id or name)
  concepts rename CONCEPT NEW  rename a concept
  concepts more CONCEPT PHOTO...  add photos (--negative: photos in which it is not)
  concepts rm CONCEPT          delete a concept
  recognize PHOTO              the concepts in a photo (--all: every concept's score)
  caption PHOTO                a caption with the user's names (--style detailed, --stream)
  ask PHOTO QUESTION           an answer with the user's names (--stream)
  videos add VIDEO             upload and index a video (--fps N, --no-wait)
  videos show ID               a video's indexing status
  videos moments ID CONCEPT    where a concept appears in a video
  videos rm ID                 delete a video
  photos add DIR|PHOTO...      index photos for the library, each as its file name without extension
  photos find CONCEPT          the library's photos of a concept (--all, --limit N, --cursor C, --text WORDS)
  photos rm PHOTO              take a photo (its id) out of the library
  feedback add CONCEPT PHOTO   correct a concept on a library photo: --not (it is not there) or --is (it is);
                               --image FILE instead of PHOTO sends the photo along; --box x,y,w,h
  feedback list CONCEPT        a concept's corrections
  feedback rm CONCEPT ID       undo a correction
  users rm                     delete the user and all of their data

options: --user U (or NOMEN_USER), --url URL (or NOMEN_URL, default http://127.0.0.1:8787),
         --key KEY (or NOMEN_KEY), --json (the API's answers as JSON, for scripts), --help`;

const OPTIONS = {
  user: { type: 'string' },
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  category: { type: 'string' },
  description: { type: 'string' },
  box: { type: 'string' },
  negative: { type: 'boolean' },
  all: { type: 'boolean' },
  style: { type: 'string' },
  stream: { type: 'boolean' },
  fps: { type: 'string' },
  'no-wait': { type: 'boolean' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  text: { type: 'string' },
  image: { type: 'string' },
  not: { type: 'boolean' },
  is: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const fmt = (n: number) => n.toFixed(2);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const qualityText = (c: Concept) => [c.quality.level, ...c.quality.reasons].join('; ');
const conceptLine = (c: Concept) =>
  [c.id, c.name, c.category || '-', c.status, c.quality.level, `${c.imageCount} photos`].join('\t');
const boxText = (box: number[]) => `box ${box.map(fmt).join(',')}`;
const matchLine = (m: Match) => `${m.name}\t${fmt(m.score)}\t${m.present ? 'present' : 'absent'}\t${boxText(m.box)}`;
const photoLine = (p: LibraryPhoto) => `${p.id}\t${fmt(p.score)}\t${boxText(p.box)}`;
const feedbackLine = (f: Feedback) =>
  [f.id, f.photo ?? '(photo sent along)', f.correct ? 'is' : 'not', boxText(f.box), f.createdAt].join('\t');
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** A progress bar that redraws itself on its line. */
function bar(fraction: number, what: string): string {
  const width = 30;
  const done = Math.round(fraction * width);
  return `\r[${'#'.repeat(done)}${'-'.repeat(width - done)}] ${Math.round(fraction * 100)}% ${what}`;
}

function parseBox(text: string): [number, number, number, number] {
  const box = text.split(',').map(Number);
  if (box.length !== 4 || box.some((n) => !Number.isFinite(n)))
    throw new UsageError(`--box must be four numbers x,y,w,h (fractions of the photo), got "${text}"`);
  return box as [number, number, number, number];
}

/** Where a command writes: its answer (stdout), progress (stderr). */
interface Io {
  print(json: unknown, text: string): void;
  progress(text: string): void;
}

async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    err.write(`nomen: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? out : err).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const client = new NomenClient({
    url: values.url ?? process.env.NOMEN_URL ?? 'http://127.0.0.1:8787',
    key: values.key ?? process.env.NOMEN_KEY,
  });
  const io: Io = {
    print: (json, text) => out.write(`${values.json ? JSON.stringify(json, null, 2) : text}\n`),
    // Scripts that ask for JSON read stdout only; progress would be noise on their stderr too.
    progress: (text) => values.json || err.write(text),
  };
  try {
    await run(client, positionals, values, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) err.write(`nomen: ${e.message}\n\n${USAGE}\n`);
    else if (e instanceof NomenError)
      err.write(`nomen: ${e.message}${e.status ? ` (${e.code}, HTTP ${e.status})` : ''}\n`);
    else err.write(`nomen: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

async function run(
  client: NomenClient,
  [group, action, ...args]: string[],
  values: Values,
  { print, progress }: Io,
): Promise<void> {
  const user = values.user ?? process.env.NOMEN_USER;
  const need = (n: number, what: string) => {
    if (args.length < n) throw new UsageError(`${group} ${action} needs ${what}`);
  };
  if (!user) throw new UsageError('say whose data with --user (or NOMEN_USER)');
  /** A concept named by id or, case-insensitively as the API compares names, by name. */
  const concept = async (ref: string): Promise<Concept> => {
    const found = (await client.listConcepts(user)).find(
      (c) => c.id === ref || c.name.toLowerCase() === ref.toLowerCase(),
    );
    if (!found) throw new Error(`${user} has no concept "${ref}"`);
    return found;
  };
  const photos = async (paths: string[]) => {
    const files = await Promise.all(paths.map((p) => fromFile(p)));
    const bytes = files.reduce((n, f) => n + f.size, 0);
    progress(`uploading ${files.length} photo${files.length > 1 ? 's' : ''} (${mb(bytes)})\n`);
    return files;
  };
  const key = `${group} ${action ?? ''}`.trim();
  switch (key) {
    case 'concepts add': {
      need(2, 'a name and at least one photo');
      const [name, ...paths] = args;
      const images = await photos(paths);
      const box = values.box === undefined ? undefined : parseBox(values.box);
      const c = await client.createConcept(user, {
        name,
        category: values.category,
        description: values.description,
        images: images.map((bytes, n) => (n === 0 && box ? { bytes, box } : bytes)),
      });
      return print(c, `registered ${c.name} (${c.id}): ${c.status}, quality ${qualityText(c)}`);
    }
    case 'concepts list': {
      const concepts = await client.listConcepts(user);
      return print({ concepts }, concepts.map(conceptLine).join('\n') || `${user} has no concepts`);
    }
    case 'concepts show': {
      need(1, 'a concept');
      const c = await client.getConcept(user, (await concept(args[0])).id);
      return print(c, `${conceptLine(c)}\nthreshold ${fmt(c.threshold)}, quality ${qualityText(c)}`);
    }
    case 'concepts rename': {
      need(2, 'a concept and its new name');
      const c = await client.updateConcept(user, (await concept(args[0])).id, { name: args[1] });
      return print(c, `renamed to ${c.name}`);
    }
    case 'concepts more': {
      need(2, 'a concept and at least one photo');
      const { id } = await concept(args[0]);
      const c = await client.addImages(user, id, await photos(args.slice(1)), values.negative);
      return print(c, `${c.name}: ${c.imageCount} photos, ${c.negativeCount} negatives, quality ${qualityText(c)}`);
    }
    case 'concepts rm': {
      need(1, 'a concept');
      const c = await concept(args[0]);
      await client.deleteConcept(user, c.id);
      return print({ deleted: c.id }, `deleted ${c.name}`);
    }
    case 'photos add': {
      need(1, 'a folder or photo files');
      const named = await photoFiles(args);
      const uploads = await Promise.all(named.map(async ({ id, file }) => ({ id, bytes: await fromFile(file) })));
      const what = `of ${plural(uploads.length, 'photo')} (${mb(uploads.reduce((n, p) => n + p.bytes.size, 0))})`;
      let indexing = false;
      const jobs = await client.indexPhotos(user, uploads, {
        onUpload: (sent, total) => progress(bar(sent / total, `uploaded ${what}`)),
        onProgress: (done, total) => {
          if (!indexing) progress('\n');
          indexing = true;
          progress(bar(done / total, 'indexed'));
        },
      });
      progress('\n');
      const errors = jobs.flatMap((j) => j.errors);
      print({ jobs }, `indexed ${plural(uploads.length - errors.length, 'photo')} for ${user}`);
      if (errors.length === 0) return;
      throw new Error(errors.map((e) => `could not index ${e.photo}: ${e.message}`).join('\nnomen: '));
    }
    case 'photos find': {
      need(1, 'a concept');
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && !Number.isInteger(limit)) throw new UsageError('--limit is a whole number');
      const options = { limit, cursor: values.cursor, all: values.all, text: values.text };
      const page = await client.findPhotos(user, args, options);
      if (page.next) progress(`more: --cursor ${page.next}\n`);
      return print(page, page.photos.map(photoLine).join('\n') || `no photos of ${args.join(' and ')}`);
    }
    case 'photos rm':
      need(1, 'a photo id');
      await client.deletePhoto(user, args[0]);
      return print({ deleted: args[0] }, `deleted photo ${args[0]}`);
    case 'feedback add': {
      need(values.image === undefined ? 2 : 1, 'a concept and a library photo (or --image FILE)');
      if (values.not === values.is) throw new UsageError('feedback add needs one of --not and --is');
      const c = await concept(args[0]);
      const box = values.box === undefined ? undefined : parseBox(values.box);
      const on = values.image === undefined ? { photo: args[1] } : { image: await fromFile(values.image) };
      const f = await client.addFeedback(user, c.id, { ...on, box, correct: !!values.is });
      return print(f, `${f.id}: ${c.name} ${f.correct ? 'is' : 'is not'} in ${f.photo ?? values.image}, retrained`);
    }
    case 'feedback list': {
      need(1, 'a concept');
      const c = await concept(args[0]);
      const feedback = await client.listFeedback(user, c.id);
      return print({ feedback }, feedback.map(feedbackLine).join('\n') || `no corrections of ${c.name}`);
    }
    case 'feedback rm': {
      need(2, 'a concept and a correction id');
      const c = await concept(args[0]);
      await client.deleteFeedback(user, c.id, args[1]);
      return print({ deleted: args[1] }, `undid ${args[1]}, ${c.name} retrained`);
    }
    case 'users rm':
      await client.deleteUser(user);
      return print({ deleted: user }, `deleted ${user} and all of their data`);
    case 'videos add': {
      need(1, 'a video file');
      const file = await fromFile(args[0]);
      const fps = values.fps === undefined ? undefined : Number(values.fps);
      const onUpload = (sent: number, total: number) => progress(bar(sent / total, `uploaded of ${file.name}`));
      const accepted = await client.uploadVideo(user, file, { fps, name: file.name, onUpload });
      progress('\n');
      if (values['no-wait']) return print(accepted, `${accepted.id}: ${accepted.status}`);
      const video = await client.waitForVideo(user, accepted.id, (v) => progress(bar(v.progress, v.status)));
      progress('\n');
      return print(video, `${video.id}: ready, ${video.durationS} s, ${video.frames} frames indexed`);
    }
    case 'videos show': {
      need(1, 'a video id');
      const v = await client.video(user, args[0]);
      return print(v, `${v.id}: ${v.status}, ${Math.round(v.progress * 100)}%${v.error ? `, ${v.error}` : ''}`);
    }
    case 'videos moments': {
      need(2, 'a video id and a concept');
      const moments = await client.moments(user, args[0], args[1]);
      const lines = moments.map(
        (m) => `${fmt(m.start)}s - ${fmt(m.end)}s\tscore ${fmt(m.score)}\tpeak ${fmt(m.peak)}s`,
      );
      return print({ moments }, lines.join('\n') || `no moments of ${args[1]}`);
    }
    case 'videos rm':
      need(1, 'a video id');
      await client.deleteVideo(user, args[0]);
      return print({ deleted: args[0] }, `deleted video ${args[0]}`);
  }
  // The photo commands take the photo where the groups take an action.
  const photo = action && (await readFile(action));
  switch (group) {
    case 'recognize': {
      if (!photo) throw new UsageError('recognize needs a photo');
      const r = await client.recognize(user, photo, { all: values.all });
      return print(r, r.concepts.map(matchLine).join('\n') || 'none of the concepts is in the photo');
    }
    case 'caption':
    case 'ask': {
      if (!photo) throw new UsageError(`${group} needs a photo`);
      const question = args.join(' ');
      if (group === 'ask' && !question) throw new UsageError('ask needs a question after the photo');
      const printAnswer = (a: Caption | Answer) => print(a, 'caption' in a ? a.caption : a.answer);
      const style = values.style as 'short' | 'detailed' | undefined;
      if (style && style !== 'short' && style !== 'detailed') throw new UsageError('--style is short or detailed');
      if (values.stream) {
        // The model's words as they come go to stderr; stdout gets the whole text, its names repaired.
        const events =
          group === 'ask' ? client.askStream(user, photo, question) : client.captionStream(user, photo, style);
        for await (const e of events) {
          if (e.type === 'delta') progress(e.text);
          else return (progress('\n'), printAnswer('caption' in e ? e.caption : e.answer));
        }
        throw new Error('the answer stream ended before the whole answer came');
      }
      return printAnswer(
        group === 'ask' ? await client.ask(user, photo, question) : await client.caption(user, photo, style),
      );
    }
  }
  throw new UsageError(`unknown command "${key}"`);
}

process.exitCode = await main(process.argv.slice(2));
