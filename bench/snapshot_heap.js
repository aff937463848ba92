'use strict';
// A heap of N small objects, written as a V8 heap snapshot by node itself:
//   node --max-old-space-size=8192 bench/snapshot_heap.js N OUT.heapsnapshot
// N `Session` objects (as in fixtures/scenarios/bench_heap.js: a string, a two-element array,
// a float, and for one in eight a nested object), held by one global array. Prints
// {"sessions": N} when the file is written.
const v8 = require('v8');

class Session {
  constructor(i) {
    this.id = 'session-' + i;
    this.tags = [i, i + 1];
    this.score = i * 0.5;
    this.meta = i % 8 === 0 ? { owner: 'user-' + (i % 1000) } : null;
  }
}

const n = Number(process.argv[2]);
globalThis.sessions = [];
for (let i = 0; i < n; i++) globalThis.sessions.push(new Session(i));
v8.writeHeapSnapshot(process.argv[3]);
process.stdout.write(JSON.stringify({ sessions: n }) + '\n');
