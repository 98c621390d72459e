// Follows Basalt's realtime stream over /api/realtime/ws with the npm `ws`
// package, as a Node.js application would, in two ways at once:
//
//   header: sends the access token in an Authorization header on every
//           connection;
//   ticket: sends the one-use ticket BASALT_TICKET on the first
//           connection and a fresh one on every reconnection.
//
// A WebSocket client reconnects by itself: when the connection drops it
// opens a new one and subscribes again with "after", the position of the
// last event it had, and Basalt replays what it missed. Each happening is
// printed as a JSON line on stdout for cmd/basalt/clients_test.go to
// check, as sse-node.mjs does; the script ends when its stdin closes.
//
// Environment: BASALT_URL (http://...), BASALT_TOKEN, BASALT_TICKET,
// BASALT_SUBSCRIBE (comma-separated).
import WebSocket from 'ws';
import { out, ticket, untilStdinEnds } from './lib.mjs';

const { BASALT_URL, BASALT_TOKEN, BASALT_TICKET, BASALT_SUBSCRIBE } = process.env;
let stopping = false;

// follow keeps a WebSocket open, reconnecting after a drop; auth(n, url)
// returns the headers of the n-th connection and may change its URL.
function follow(client, auth) {
  const state = { ws: null, last: null, connects: 0 };
  const connect = async () => {
    const n = ++state.connects;
    const url = new URL('/api/realtime/ws', BASALT_URL.replace(/^http/, 'ws'));
    let headers;
    try {
      headers = await auth(n, url);
    } catch (err) {
      out({ client, kind: 'error', message: String(err) });
      if (!stopping) setTimeout(connect, 500);
      return;
    }
    out({ client, kind: 'connect', n, after: state.last });
    const ws = new WebSocket(url, { headers });
    state.ws = ws;
    ws.on('open', () => {
      out({ client, kind: 'open' });
      const m = { type: 'subscribe', subscribe: BASALT_SUBSCRIBE.split(',') };
      if (state.last !== null) m.after = Number(state.last);
      ws.send(JSON.stringify(m));
    });
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.type === 'event') {
        state.last = String(m.position);
        out({ client, kind: 'event', id: String(m.position), type: m.op, data: m });
        return;
      }
      // subscribed: ready for events; error: Basalt refused a message.
      const kind = { subscribed: 'ready', error: 'refused' }[m.type] ?? m.type;
      out({ client, kind, message: m.detail ?? m.reason ?? '', data: m });
    });
    ws.on('unexpected-response', (req, res) => {
      out({ client, kind: 'refused', message: `handshake refused: ${res.statusCode}` });
      req.destroy();
    });
    ws.on('error', (err) => out({ client, kind: 'error', message: String(err) }));
    ws.on('close', (code, reason) => {
      out({ client, kind: 'close', message: `${code} ${reason}` });
      // Soon, but not in a tight loop against a server that refuses.
      if (!stopping) setTimeout(connect, 200);
    });
  };
  connect();
  return state;
}

const clients = [
  follow('header', async () => ({ Authorization: `Bearer ${BASALT_TOKEN}` })),
  follow('ticket', async (n, url) => {
    url.searchParams.set('ticket', n === 1 ? BASALT_TICKET : await ticket(BASALT_URL, BASALT_TOKEN));
    return {};
  }),
];
untilStdinEnds(() => {
  stopping = true;
  clients.forEach((c) => c.ws?.close(1000));
});
