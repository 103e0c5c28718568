/**
 * The nomen console: a page over the API for a developer trying it with their own photos. Key and user stay in
 * session storage; every call goes through the TypeScript client to this page's origin.
 */
import type { Box, Concept, Match } from '../typescript/client.js';
import { librarySection, libraryConcept } from './library-panel.js';
import { alert, boxElement, button, client, dropZone, field, fmt, h, keyInput, store, user, userInput } from './ui.js';
import { videoSection } from './video-panel.js';

const conceptList = h('ul', { id: 'concepts', class: 'concepts', 'aria-live': 'polite' });

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
    librarySection(),
    videoSection(),
  ),
);
