// Node's `ws` (a client Keel did not write) against http/tests/websocket.rs's server:
// echo of text and binary, a declined permessage-deflate offer, the close handshake.
// Prints one JSON object. Usage: node client.mjs ws://host:port
import { createRequire } from "node:module";
const require = createRequire(process.env.KEEL_NODE_MODULES + "/");
const WebSocket = require("ws");

const out = {};
const ws = new WebSocket(process.argv[2] + "/echo", { perMessageDeflate: true });
const timer = setTimeout(() => { console.log(JSON.stringify({ error: "timeout", ...out })); process.exit(1); }, 10000);
const received = [];
ws.on("open", () => {
  out.extensions = ws.extensions;
  ws.send("hi from node");
  ws.send(Buffer.from([1, 2, 3]));
});
ws.on("message", (data, isBinary) => {
  received.push(isBinary ? Array.from(data) : data.toString());
  if (received.length === 2) {
    out.received = received;
    ws.close(1000, "bye");
  }
});
ws.on("close", (code, reason) => {
  out.close_code = code;
  out.close_reason = reason.toString();
  clearTimeout(timer);
  console.log(JSON.stringify(out));
});
ws.on("error", (e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
