/**
 * The console's library panel: photos indexed from this tab (kept as object URLs, since the server keeps no pixels),
 * then every photo of a concept, a page at a time, each with "Not ..." to correct it.
 */
import { type LibraryPhoto, photoIdOf } from '../typescript/client.js';
import { act, boxElement, button, client, dropZone, field, fmt, h, user } from './ui.js';

const libraryFiles = new Map<string, string>();
const libraryProgress = h('progress', { id: 'library-progress', max: '1', value: '0', hidden: true });
const libraryStatus = h('p', { id: 'library-status', role: 'status' });
export const libraryConcept = h('select', { id: 'library-concept' });
const libraryAll = h('input', { id: 'library-all', type: 'checkbox' });
const libraryPhotos = h('ul', { id: 'library-photos', class: 'library', 'aria-live': 'polite' });
let libraryNext: string | null = null;
const libraryMore = button('More photos', () => findPhotos(libraryNext ?? undefined), { hidden: true });

async function indexPhotos(files: File[]): Promise<void> {
  const photos = files.map((file) => ({ id: photoIdOf(file.name), bytes: file }));
  const ids = new Set(photos.map((p) => p.id));
  if (ids.size < photos.length) throw new Error('two of the photos have one name: each name is a photo id');
  // Shown as soon as a search can find them: the last progress event comes before the upload call returns.
  for (const p of photos) libraryFiles.set(p.id, URL.createObjectURL(p.bytes));
  libraryProgress.hidden = false;
  libraryProgress.value = 0;
  libraryStatus.textContent = `uploading ${files.length} photos...`;
  const jobs = await client().indexPhotos(user(), photos, {
    onProgress: (done, total) => {
      libraryProgress.value = done / total;
      libraryStatus.textContent = `indexed ${done} of ${total} photos`;
    },
  });
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

/** The library section of the page. */
export function librarySection(): HTMLElement {
  return h(
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
  );
}
