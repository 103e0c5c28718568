/** Reading the service's HTTP answers in tests: the body as text and JSON, and the events of a stream. */

/** Status, headers, the body's text and, when the answer is JSON, the body parsed. */
export async function answerOf(res: Response) {
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined,
  };
}

/** `event: name` / `data: json` blocks of an event stream. */
export function events(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => ({
      event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
      data: JSON.parse(
        block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n'),
      ),
    }));
}
