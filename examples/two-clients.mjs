// Two clients edit one doc through a running cairn server and see each
// other's edits live. Start the server first (`npm start`), then:
//   node examples/two-clients.mjs [http://127.0.0.1:8787]
import WebSocket from 'ws';
import { CairnClient } from '../dist/client/index.js';

const url = process.argv[2] ?? 'http://127.0.0.1:8787';
const space = 'did:key:z6MkExampleSpace';
const alice = new CairnClient({ url, space, WebSocket });
const bob = new CairnClient({ url, space, WebSocket });

bob.subscribe('shopping', (doc) => console.log('bob sees  ', JSON.stringify(doc)));
alice.subscribe('shopping', () => undefined);

await alice.change('shopping', (d) => {
  d.milk = 1;
});
await bob.change('shopping', (d) => {
  d.eggs = 12;
});
await alice.change('shopping', (d) => {
  d.milk = 2;
});
await Promise.all([alice.synced(), bob.synced()]);
// Give the last delivery a moment to arrive, then show both sides.
await new Promise((resolve) => setTimeout(resolve, 200));
console.log('alice has ', JSON.stringify(alice.doc('shopping')));
console.log('bob has   ', JSON.stringify(bob.doc('shopping')));
alice.close();
bob.close();
