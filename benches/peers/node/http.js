// Node's built-in `http` module: GET /plaintext and GET /json on 127.0.0.1:PORT.
// A peer for benches/load/run.sh; one process, one event loop, nothing else.
'use strict';

const http = require('node:http');

const PLAINTEXT = Buffer.from('Hello, World!');

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/plaintext') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': PLAINTEXT.length });
    res.end(PLAINTEXT);
  } else if (req.method === 'GET' && req.url === '/json') {
    // Serialised per request, as Keel's handler does.
    const body = JSON.stringify({ message: 'Hello, World!' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  } else {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
  }
});

const port = Number(process.env.PORT || 3000);
server.listen(port, '127.0.0.1', () => {
  console.log(`peer-node-http: listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
