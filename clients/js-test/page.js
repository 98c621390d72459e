// What the test pages share. A page is written as a browser application
// would write it: it holds an access token and trades it for a one-use
// ticket, since a browser's EventSource and WebSocket cannot send an
// Authorization header. Each happening goes to the console as
// "basalt {json}", which browser.mjs passes on to the Go test.
//
// Query: api (Basalt's origin, another one than the page's), token,
// subscribe.
const q = new URLSearchParams(location.search);
const api = q.get('api'), token = q.get('token'), subscribe = q.get('subscribe');

function reporter(client) {
  return (o) => console.log('basalt ' + JSON.stringify({ client, ...o }));
}

// freshTicket asks for a ticket, trying again after a network error (the
// network may be down when it is called).
async function freshTicket(report) {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await fetch(api + '/api/realtime/tickets', { method: 'POST', headers: { Authorization: 'Bearer ' + token } });
      if (r.status === 201) return (await r.json()).ticket;
      report({ kind: 'refused', message: 'POST /api/realtime/tickets: ' + r.status + ' ' + await r.text() });
      return null;
    } catch (err) {
      report({ kind: 'error', message: String(err) });
      if (attempt >= 10) return null;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}
