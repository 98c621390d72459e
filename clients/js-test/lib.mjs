// What the Node.js client scripts share: the line protocol to the Go
// test, tickets, and the end of the script when the test is done.

// out prints one happening as a JSON line for cmd/basalt/clients_test.go.
export const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ticket asks BASALT_URL for a one-use realtime ticket with token. Node's
// fetch may hand it a pooled connection that the network has just cut,
// so a network error is tried again a few times; an HTTP error is not.
export async function ticket(url, token) {
  for (let attempt = 1; ; attempt++) {
    let r;
    try {
      r = await fetch(`${url}/api/realtime/tickets`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(200);
      continue;
    }
    if (r.status !== 201) throw new Error(`POST /api/realtime/tickets: ${r.status} ${await r.text()}`);
    return (await r.json()).ticket;
  }
}

// untilStdinEnds calls stop when the test closes the script's stdin, and
// ends the script after a minute in any case: a test that lost track of
// it must not leave it running.
export function untilStdinEnds(stop) {
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await stop();
    process.exit(0);
  });
  setTimeout(async () => {
    out({ kind: 'timeout' });
    await stop();
    process.exit(2);
  }, 60_000).unref();
}
