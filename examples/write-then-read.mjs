// Commits one Automerge change to doc "notes/1", then reads it back as JSON
// and as Automerge bytes. Start the server first (`npm start`), then:
//   node examples/write-then-read.mjs [http://127.0.0.1:8787]
import * as Automerge from '@automerge/automerge';

const server = process.argv[2] ?? 'http://127.0.0.1:8787';
const space = 'did:key:z6MkExampleSpace';
const base = `${server}/v1/${space}`;

// A fixed actor and time make the change the same bytes on every run, so a
// second run sends a change the server already has.
const actor = 'ca1e'.repeat(8);
const doc = Automerge.change(Automerge.init({ actor }), { time: 0 }, (d) => {
  d.title = 'hello';
});
const change = Automerge.getLastLocalChange(doc);

const receipt = await fetch(`${base}/tx`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    writes: [
      { docId: 'notes/1', baseHeads: [], changes: [Buffer.from(change).toString('base64')] },
    ],
  }),
}).then((r) => r.json());
console.log('receipt:', JSON.stringify(receipt));

// Doc ids are URL-encoded in paths.
const json = await fetch(`${base}/docs/notes%2F1`).then((r) => r.json());
console.log('as JSON:', JSON.stringify(json));

const bytes = await fetch(`${base}/docs/notes%2F1`, {
  headers: { accept: 'application/automerge' },
}).then((r) => r.arrayBuffer());
const loaded = Automerge.load(new Uint8Array(bytes));
console.log(`as bytes: ${bytes.byteLength} B, Automerge.load gives`, JSON.stringify(loaded));
