/**
 * The nomen console: a page over the API for a developer trying it with their own photos. Key and user stay in
 * session storage; every call goes through the TypeScript client to this page's origin.
 */
import {
  type Box,
  type Concept,
  type LibraryPhoto,
  type Match,
  NomenClient,
  NomenError,
  photoIdOf,
} from '../typescript/client.js';

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;

/** An element with attributes (`on...` ones as listeners) and children. */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false) el.setAttribute(k, v);
  }
  el.append(...children);
  return el;
}

const store = sessionStorage;
const keyInput = h('input', {
  id: 'key',
  type: 'password',
  autocomplete: 'off',
  value: store.getItem('nomen.key') ?? '',
});
const userInput = h('input', { id: 'user', required: true, value: store.getItem('nomen.user') ?? '' });
const alert = h('p', { id: 'error', role: 'alert', class: 'error', hidden: true });
const conceptList = h('ul', { id: 'concepts', class: 'concepts', 'aria-live': 'polite' });

const client = () => new NomenClient({ url: location.origin, key: keyInput.value.trim() || undefined, retries: 2 });
const user = () => userInput.value.trim();
const fmt = (n: number) => n.toFixed(2);

/** Runs an action (of a button, disabled meanwhile), showing the API's own words when it fails. */
async function act(action: () => Promise<void>, button?: HTMLButtonElement): Promise<void> {
  alert.hidden = true;
  if (button) button.disabled = true;
  try {
    await action();
  } catch (e) {
    alert.textContent = e instanceof NomenError ? `${e.message} (${e.code})` : (e as Error).message;
    alert.hidden = false;
  } finally {
    if (button) button.disabled = false;
  }
}

function button(label: string, action: () => Promise<void>, attrs: Attrs = {}): HTMLButtonElement {
  const b: HTMLButtonElement = h('button', { type: 'button', ...attrs, onclick: () => void act(action, b) }, label);
  return b;
}

/** A file picker that also takes files dropped on it: images, or with `kind` video, videos. */
function dropZone(
  id: string,
  label: string,
  multiple: boolean,
  onFiles: (files: File[]) => void,
  kind: 'image' | 'video' = 'image',
): HTMLElement {
  const input = h('input', { id, type: 'file', accept: `${kind}/*`, multiple, class: 'file' });
  input.addEventListener('change', () => onFiles([...(input.files ?? [])]));
  const zone = h('label', { class: 'drop', for: id }, label, input);
  zone.addEventListener('dragover', (e) => (e.preventDefault(), zone.classList.add('over')));
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    onFiles([...(e.dataTransfer?.files ?? [])].filter((f) => f.type.startsWith(`${kind}/`)));
  });
  return zone;
}

/** A box drawn over a photo stage, in fractions of it, with its label. */
function boxElement(box: Box, label: string, cls: string): HTMLElement {
  const el = h('div', { class: `box ${cls}` }, h('span', {}, label));
  [el.style.left, el.style.top, el.style.width, el.style.height] = box.map((v) => `${v * 100}%`);
  return el;
}

// Registering: examples, an optional box drawn on one of them, then the concept's status as it refines.
const examples: { file: File; url: string; box?: Box }[] = [];
let selected = 0;
const nameInput = h('input', { id: 'name', required: true, maxlength: '100' });
const categoryInput = h('input', { id: 'category', maxlength: '100', placeholder: 'dog, backpack, person...' });
const thumbs = h('div', { class: 'thumbs', role: 'list' });
const exampleStage = h('div', { class: 'stage', hidden: true });
const boxInput = h('input', { id: 'box', placeholder: 'x,y,w,h (fractions)', inputmode: 'decimal' });
const boxError = h(
  'p',
  { role: 'alert', class: 'error', hidden: true },
  'A box is four fractions of the photo: x,y,w,h (e.g. 0.1,0.2,0.5,0.6).',
);
const registerStatus = h('p', { id: 'register-status', role: 'status' });

function showExamples(): void {
  thumbs.replaceChildren(
    ...examples.map((ex, n) =>
      h(
        'button',
        {
          type: 'button',
          role: 'listitem',
          class: n === selected ? 'thumb selected' : 'thumb',
          'aria-label': `example ${n + 1}${ex.box ? ', boxed' : ''}`,
          'aria-pressed': String(n === selected),
          onclick: () => ((selected = n), showExamples()),
        },
        h('img', { src: ex.url, alt: '' }),
      ),
    ),
  );
  const ex = examples[selected];
  exampleStage.hidden = !ex;
  boxInput.value = ex?.box ? ex.box.map(fmt).join(',') : '';
  if (!ex) return;
  exampleStage.replaceChildren(h('img', { src: ex.url, alt: `example ${selected + 1}: drag to box the concept` }));
  if (ex.box) exampleStage.append(boxElement(ex.box, 'box', 'draft'));
}

function drawBox(): void {
  let start: [number, number] | undefined;
  const at = (e: PointerEvent): [number, number] => {
    const r = exampleStage.getBoundingClientRect();
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    return [clamp((e.clientX - r.left) / r.width), clamp((e.clientY - r.top) / r.height)];
  };
  exampleStage.addEventListener('pointerdown', (e) => {
    start = at(e);
    boxError.hidden = true;
    exampleStage.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  exampleStage.addEventListener('pointermove', (e) => {
    if (!start || !examples[selected]) return;
    const [x, y] = at(e);
    const box: Box = [Math.min(x, start[0]), Math.min(y, start[1]), Math.abs(x - start[0]), Math.abs(y - start[1])];
    examples[selected].box = box[2] > 0.02 && box[3] > 0.02 ? box : undefined;
    showExamples();
  });
  exampleStage.addEventListener('pointerup', () => (start = undefined));
  boxInput.addEventListener('change', () => {
    const box = boxInput.value.split(',').map(Number);
    const valid = box.length === 4 && box.every((v) => v >= 0 && v <= 1);
    boxError.hidden = valid || !boxInput.value.trim();
    if (!examples[selected]) return;
    examples[selected].box = valid ? (box as Box) : undefined;
    showExamples();
  });
}

async function register(): Promise<void> {
  if (examples.length === 0) throw new Error('add at least one example photo');
  const images = examples.map((ex) => (ex.box ? { bytes: ex.file, box: ex.box } : ex.file));
  registerStatus.textContent = `uploading ${images.length} photos...`;
  let c = await client()
    .createConcept(user(), { name: nameInput.value.trim(), category: categoryInput.value.trim() || undefined, images })
    .finally(() => (registerStatus.textContent = ''));
  for (; c.status === 'refining'; c = await client().getConcept(user(), c.id)) {
    registerStatus.textContent = `${c.name}: refining...`;
    await listConcepts();
    await new Promise((r) => setTimeout(r, 500));
  }
  registerStatus.textContent = `${c.name}: ${c.status}, quality ${quality(c)}`;
  examples.length = 0;
  selected = 0;
  nameInput.value = '';
  showExamples();
  await listConcepts();
}

const quality = (c: Concept) => [c.quality.level, ...c.quality.reasons].join('; ');

function conceptItem(c: Concept): HTMLElement {
  const rename = h('input', { value: c.name, 'aria-label': `new name for ${c.name}`, maxlength: '100' });
  const ref = h('img', { alt: `${c.name}, cropped from its first photo`, class: 'ref', hidden: true });
  // The crop needs the key, so it comes through the client rather than from the img's own request.
  client()
    .referenceCrop(user(), c.id)
    .then((crop) => ((ref.src = URL.createObjectURL(crop)), (ref.hidden = false)))
    // A crop that cannot be had leaves the item as it is: the concept's own line says what matters.
    .catch(() => undefined);
  return h(
    'li',
    { class: 'concept', 'data-id': c.id },
    ref,
    h(
      'div',
      {},
      h('strong', { class: 'concept-name' }, c.name),
      ` ${c.category || ''}`,
      h('br'),
      h('span', { class: `status ${c.status}` }, c.status),
      ` · quality ${quality(c)} · ${c.imageCount} photos, ${c.negativeCount} negatives`,
    ),
    h(
      'div',
      { class: 'row' },
      rename,
      button('Rename', async () => {
        await client().updateConcept(user(), c.id, { name: rename.value.trim() });
        await listConcepts();
      }),
      button(
        'Delete',
        async () => {
          await client().deleteConcept(user(), c.id);
          await listConcepts();
        },
        { class: 'danger', 'aria-label': `delete ${c.name}` },
      ),
    ),
  );
}

async function listConcepts(): Promise<void> {
  const concepts = await client().listConcepts(user());
  conceptList.replaceChildren(...(concepts.length ? concepts.map(conceptItem) : [h('li', {}, 'No concepts yet.')]));
  const chosen = libraryConcept.value;
  libraryConcept.replaceChildren(
    ...concepts.map((c) => h('option', { value: c.id, selected: c.id === chosen }, c.name)),
  );
}

// A photo to recognise, caption or ask about.
let photo: File | undefined;
const photoStage = h('div', { class: 'stage', hidden: true });
const matches = h('ul', { id: 'matches', class: 'matches' });
const question = h('input', { id: 'question', placeholder: 'Where is Biscuit?' });
const answer = h('p', { id: 'answer', class: 'answer', 'aria-live': 'polite' });

function showPhoto(file: File | undefined): void {
  photo = file;
  photoStage.hidden = !file;
  matches.replaceChildren();
  answer.textContent = '';
  if (file) photoStage.replaceChildren(h('img', { src: URL.createObjectURL(file), alt: 'the photo to recognise' }));
}

function needPhoto(): File {
  if (!photo) throw new Error('choose a photo first');
  return photo;
}

function showMatches(found: Match[]): void {
  photoStage.querySelectorAll('.box').forEach((b) => b.remove());
  for (const m of found.filter((f) => f.present))
    photoStage.append(boxElement(m.box, `${m.name} ${fmt(m.score)}`, 'match'));
  matches.replaceChildren(
    ...found.map((m) =>
      h(
        'li',
        {},
        `${m.name}: ${fmt(m.score)} ${m.present ? 'present' : 'absent'}, box ${m.box.map(fmt).join(', ')} `,
        m.present ? button(`Not ${m.name}`, () => notThis(m), { class: 'danger' }) : '',
      ),
    ),
  );
  if (!found.length) matches.append(h('li', {}, 'None of the concepts is in this photo.'));
}

/** A wrong match: the photo, boxed where it was found, becomes a negative of the concept, which is retrained. */
async function notThis(m: Match): Promise<void> {
  const c = await client().addImages(user(), m.id, [{ bytes: needPhoto(), box: m.box }], true);
  answer.textContent = `${c.name} learned that this is not it (${c.negativeCount} negatives).`;
  await Promise.all([listConcepts(), recognize(false)]);
}

async function recognize(all: boolean): Promise<void> {
  showMatches((await client().recognize(user(), needPhoto(), { all })).concepts);
}

/** A caption or an answer, its words shown as they come, then the whole text with its names. */
async function describe(ask: boolean): Promise<void> {
  const image = needPhoto();
  if (ask && !question.value.trim()) throw new Error('type a question first');
  answer.textContent = '';
  const events = ask ? client().askStream(user(), image, question.value.trim()) : client().captionStream(user(), image);
  for await (const e of events) {
    if (e.type === 'delta') answer.textContent += e.text;
    else {
      const done = 'caption' in e ? e.caption : e.answer;
      answer.textContent = 'caption' in done ? done.caption : done.answer;
      showMatches(done.concepts);
    }
  }
}

// A video, indexed, then a timeline per concept of the moments it appears in; a moment seeks the video.
const player = h('video', { controls: true, hidden: true, class: 'player' });
const videoProgress = h('progress', { id: 'video-progress', max: '1', value: '0', hidden: true });
const timelines = h('div', { id: 'timelines', class: 'timelines' });

async function indexVideo(file: File): Promise<void> {
  player.src = URL.createObjectURL(file);
  player.hidden = false;
  timelines.replaceChildren();
  videoProgress.hidden = false;
  const { id } = await client().uploadVideo(user(), file, { name: file.name });
  const video = await client().waitForVideo(user(), id, (v) => (videoProgress.value = v.progress));
  const concepts = await client().listConcepts(user());
  const rows = await Promise.all(concepts.map(async (c) => ({ c, moments: await client().moments(user(), id, c.id) })));
  timelines.replaceChildren(
    ...rows.map(({ c, moments }) =>
      h(
        'div',
        { class: 'timeline', role: 'group', 'aria-label': `${c.name} in the video` },
        h('span', { class: 'timeline-name' }, `${c.name} (${moments.length})`),
        h(
          'div',
          { class: 'track' },
          ...moments.map((m) => {
            const at = `${c.name} ${fmt(m.start)} s to ${fmt(m.end)} s, score ${fmt(m.score)}`;
            const seek = h('button', { type: 'button', class: 'moment', 'aria-label': at, title: at });
            seek.addEventListener('click', () => (player.currentTime = m.peak));
            seek.style.left = `${(m.start / video.durationS) * 100}%`;
            seek.style.width = `${Math.max(1, ((m.end - m.start) / video.durationS) * 100)}%`;
            return seek;
          }),
        ),
      ),
    ),
  );
}

// The library: photos indexed from this tab (kept as object URLs, since the server keeps no pixels), then every
// photo of a concept, a page at a time, each with "Not ..." to correct it.
const libraryFiles = new Map<string, string>();
const libraryProgress = h('progress', { id: 'library-progress', max: '1', value: '0', hidden: true });
const libraryStatus = h('p', { id: 'library-status', role: 'status' });
const libraryConcept = h('select', { id: 'library-concept' });
const libraryAll = h('input', { id: 'library-all', type: 'checkbox' });
const libraryPhotos = h('ul', { id: 'library-photos', class: 'library', 'aria-live': 'polite' });
let libraryNext: string | null = null;
const libraryMore = button('More photos', () => findPhotos(libraryNext ?? undefined), { hidden: true });

async function indexPhotos(files: File[]): Promise<void> {
  const photos = files.map((file) => ({ id: photoIdOf(file.name), bytes: file }));
  const ids = new Set(photos.map((p) => p.id));
  if (ids.size < photos.length) throw new Error('two of the photos have one name: each name is a photo id');
  libraryProgress.hidden = false;
  libraryProgress.value = 0;
  libraryStatus.textContent = `uploading ${files.length} photos...`;
  const jobs = await client().indexPhotos(user(), photos, {
    onProgress: (done, total) => {
      libraryProgress.value = done / total;
      libraryStatus.textContent = `indexed ${done} of ${total} photos`;
    },
  });
  for (const p of photos) libraryFiles.set(p.id, URL.createObjectURL(p.bytes));
  const errors = jobs.flatMap((j) => j.errors);
  libraryStatus.textContent = [
    `indexed ${photos.length - errors.length} of ${photos.length} photos`,
    ...errors.map((e) => `${e.photo}: ${e.message}`),
  ].join('; ');
}

function libraryItem(p: LibraryPhoto, concept: { id: string; name: string }): HTMLElement {
  const url = libraryFiles.get(p.id);
  const stage = url
    ? h('div', { class: 'stage' }, h('img', { src: url, alt: p.id }), boxElement(p.box, fmt(p.score), 'match'))
    : '';
  const notThis = button(
    `Not ${concept.name}`,
    async () => {
      const f = await client().addFeedback(user(), concept.id, { photo: p.id, correct: false });
      const undo = button('Undo', async () => {
        await client().deleteFeedback(user(), concept.id, f.id);
        libraryStatus.textContent = `undone: ${p.id} is back for ${concept.name}`;
        await findPhotos();
      });
      await findPhotos();
      libraryStatus.replaceChildren(`${concept.name} learned that ${p.id} is not it. `, undo);
    },
    { class: 'danger', 'aria-label': `not ${concept.name}: ${p.id}` },
  );
  return h(
    'li',
    { 'data-id': p.id },
    stage,
    h('span', {}, `${p.id}: ${fmt(p.score)}, box ${p.box.map(fmt).join(', ')} `),
    notThis,
  );
}

/** A concept's photos from the library, best first; with a cursor, the page after the ones shown. */
async function findPhotos(cursor?: string): Promise<void> {
  const option = libraryConcept.selectedOptions[0];
  if (!option) throw new Error('register a concept first');
  const concept = { id: option.value, name: option.text };
  const page = await client().findPhotos(user(), concept.id, { all: libraryAll.checked, cursor });
  const items = page.photos.map((p) => libraryItem(p, concept));
  if (cursor) libraryPhotos.append(...items);
  else libraryPhotos.replaceChildren(...(items.length ? items : [h('li', {}, `No photos of ${concept.name}.`)]));
  libraryNext = page.next;
  libraryMore.hidden = !page.next;
}

function field(label: string, input: HTMLElement): HTMLElement {
  return h('label', { class: 'field', for: input.id }, label, input);
}

function connect(): Promise<void> {
  store.setItem('nomen.key', keyInput.value.trim());
  store.setItem('nomen.user', user());
  if (!user()) throw new Error('say which user: 1 to 128 characters of A-Z a-z 0-9 . _ @ -');
  return listConcepts();
}

drawBox();
document.body.append(
  h('header', {}, h('h1', {}, 'nomen console'), h('a', { href: '/docs' }, 'API reference')),
  h(
    'main',
    {},
    h(
      'section',
      { 'aria-labelledby': 'h-settings' },
      h('h2', { id: 'h-settings' }, 'Key and user'),
      h(
        'div',
        { class: 'row' },
        field('API key', keyInput),
        field('User', userInput),
        button('Connect', connect, { id: 'connect' }),
      ),
    ),
    alert,
    h(
      'section',
      { 'aria-labelledby': 'h-register' },
      h('h2', { id: 'h-register' }, 'Register a concept'),
      h('div', { class: 'row' }, field('Name', nameInput), field('Category', categoryInput)),
      dropZone('examples', 'Drop 1 to 20 photos here, or choose them', true, (files) => {
        examples.push(...files.map((file) => ({ file, url: URL.createObjectURL(file) })));
        showExamples();
      }),
      thumbs,
      exampleStage,
      field('Box on the selected photo (optional; or drag on it)', boxInput),
      boxError,
      button('Register', register, { id: 'register' }),
      registerStatus,
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-concepts' },
      h('h2', { id: 'h-concepts' }, 'Concepts'),
      button('Refresh', listConcepts),
      conceptList,
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-photo' },
      h('h2', { id: 'h-photo' }, 'Recognise, caption, ask'),
      dropZone('photo', 'Drop a photo here, or choose it', false, (files) => showPhoto(files[0])),
      photoStage,
      h(
        'div',
        { class: 'row' },
        button('Recognise', () => recognize(false), { id: 'recognize' }),
        button('Every score', () => recognize(true)),
        button('Caption', () => describe(false), { id: 'caption' }),
      ),
      h(
        'div',
        { class: 'row' },
        field('Question', question),
        button('Ask', () => describe(true), { id: 'ask' }),
      ),
      answer,
      matches,
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-library' },
      h('h2', { id: 'h-library' }, 'Every photo of a concept'),
      dropZone(
        'library-files',
        'Drop photos to index for the library, or choose them',
        true,
        (files) => files.length > 0 && void act(() => indexPhotos(files)),
      ),
      h('p', { class: 'hint' }, "A photo's id is its file's name without the extension; only its vectors are kept."),
      libraryProgress,
      libraryStatus,
      h(
        'div',
        { class: 'row' },
        field('Concept', libraryConcept),
        h('label', { class: 'check', for: libraryAll.id }, libraryAll, 'every score'),
        button('Find photos', () => findPhotos(), { id: 'find-photos' }),
      ),
      libraryPhotos,
      libraryMore,
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-video' },
      h('h2', { id: 'h-video' }, 'Moments in a video'),
      dropZone(
        'video',
        'Drop a video here, or choose it',
        false,
        (files) => files[0] && void act(() => indexVideo(files[0])),
        'video',
      ),
      videoProgress,
      player,
      timelines,
    ),
  ),
);
