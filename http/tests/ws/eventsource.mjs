// Node's `eventsource` package (the browser's EventSource, a client Keel did not write)
// against http/tests/sse.rs's server: named events with ids, a stream the server ends
// after three events, the reconnection (after the `retry` the server set) with
// `Last-Event-ID`. Prints one JSON object. Usage: node eventsource.mjs http://host:port/path count
import { createRequire } from "node:module";
const require = createRequire(process.env.KEEL_NODE_MODULES + "/");
const { EventSource } = require("eventsource");

const want = Number(process.argv[3]);
const events = [];
let opens = 0;
const es = new EventSource(process.argv[2]);
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "timeout", events, opens })); process.exit(1); }, 10000);
es.onopen = () => { opens += 1; };
es.addEventListener("tick", (e) => {
  events.push({ type: e.type, id: e.lastEventId, data: e.data });
  if (events.length === want) {
    es.close();
    clearTimeout(timer);
    console.log(JSON.stringify({ events, opens }));
  }
});
es.onmessage = (e) => { events.push({ type: "message", id: e.lastEventId, data: e.data }); };
