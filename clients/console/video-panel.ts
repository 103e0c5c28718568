/** The console's video panel: a video indexed, then a timeline per concept of its moments. */
import { act, client, dropZone, fmt, h, user } from './ui.js';

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

/** The video section of the page. */
export function videoSection(): HTMLElement {
  return h(
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
  );
}
