// Fastify with its logger off: GET /plaintext and GET /json on 127.0.0.1:PORT.
// A peer for benches/load/run.sh, written as Fastify's own benchmarks write it.
'use strict';

const fastify = require('fastify')({ logger: false });

fastify.get('/plaintext', (request, reply) => {
  reply.type('text/plain').send('Hello, World!');
});

// Fastify serialises the object with its schema-less JSON path, per request.
fastify.get('/json', (request, reply) => {
  reply.send({ message: 'Hello, World!' });
});

const port = Number(process.env.PORT || 3000);
fastify.listen({ port, host: '127.0.0.1' }).then((address) => {
  console.log(`peer-fastify: listening on ${address}`);
}, (err) => {
  console.error(err);
  process.exit(1);
});
process.on('SIGTERM', () => fastify.close().then(() => process.exit(0)));
