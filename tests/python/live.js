'use strict';
// A live process for the lldb tests: LIVE_THINGS objects held by globalThis.things, then it
// prints "ready" and waits until the test attaches lldb and kills it.
const LIVE_THINGS = 5000;
class LiveThing {
  constructor(i) {
    this.i = i;
    this.name = 'live-' + i;
  }
}
globalThis.things = [];
for (let i = 0; i < LIVE_THINGS; i++) globalThis.things.push(new LiveThing(i));
console.log('ready ' + LIVE_THINGS);
setInterval(() => {}, 1000);
