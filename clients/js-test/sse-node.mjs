// Follows Basalt's realtime stream with the npm `eventsource` package, as
// a Node.js application would, in two ways at once:
//
//   header: sends the access token in an Authorization header on every
//           connection (a server-side client can send headers);
//   ticket: sends the one-use ticket BASALT_TICKET on the first
//           connection and, since a ticket is spent once used, fetches a
//           fresh one for every reconnection through the package's fetch
//           option.
//
// Both leave reconnection to the package: it waits for the server's
// retry interval and sends Last-Event-ID, and Basalt replays what the
// client missed. Each happening is printed as a JSON line on stdout for
// cmd/basalt/clients_test.go to check; the script ends when its stdin
// closes.
//
// Environment: BASALT_URL, BASALT_TOKEN (an access token or API key),
// BASALT_TICKET, BASALT_SUBSCRIBE (e.g. "posts").
import { EventSource } from 'eventsource';
import { out, ticket, untilStdinEnds } from './lib.mjs';

const { BASALT_URL, BASALT_TOKEN, BASALT_TICKET, BASALT_SUBSCRIBE } = process.env;

// follow opens an EventSource whose every connection goes through
// connectWith(n, url, init), which returns fetch's arguments.
function follow(client, url, connectWith) {
  let connects = 0;
  const es = new EventSource(url, {
    fetch: async (input, init) => {
      connects++;
      out({ client, kind: 'connect', n: connects, lastEventId: init.headers['Last-Event-ID'] ?? null });
      return fetch(...(await connectWith(connects, new URL(String(input)), init)));
    },
  });
  es.addEventListener('open', () => out({ client, kind: 'ready' }));
  for (const op of ['create', 'update', 'delete']) {
    es.addEventListener(op, (e) => out({ client, kind: 'event', id: e.lastEventId, type: e.type, data: JSON.parse(e.data) }));
  }
  es.addEventListener('end', (e) => out({ client, kind: 'end', message: e.data }));
  es.addEventListener('error', (e) => out({ client, kind: 'error', message: e.message ?? '', readyState: es.readyState }));
  return es;
}

const base = `${BASALT_URL}/api/realtime?subscribe=${encodeURIComponent(BASALT_SUBSCRIBE)}`;
const streams = [
  follow('header', base, async (n, url, init) => [url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${BASALT_TOKEN}` } }]),
  follow('ticket', `${base}&ticket=${encodeURIComponent(BASALT_TICKET)}`, async (n, url, init) => {
    if (n > 1) url.searchParams.set('ticket', await ticket(BASALT_URL, BASALT_TOKEN));
    return [url, init];
  }),
];
untilStdinEnds(() => streams.forEach((es) => es.close()));
