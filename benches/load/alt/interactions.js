// The usual alternative: a hand-written Node.js interactions endpoint, as
// Discord's own examples and most JavaScript bots do it (node:http, Ed25519
// via node:crypto, JSON.parse). Same checks and answer as the bare baseline.
// Usage: node interactions.js PUBLIC_KEY_HEX; prints its address, serves
// on a free loopback port until killed.
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');

const raw = Buffer.from(process.argv[2], 'hex');
// SPKI DER prefix for an Ed25519 public key.
const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
const key = crypto.createPublicKey({ key: spki, format: 'der', type: 'spki' });

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || !req.url.startsWith('/interactions/')) {
    return send(res, 404, '{"error":"not found"}');
  }
  const signature = req.headers['x-signature-ed25519'];
  const timestamp = req.headers['x-signature-timestamp'];
  if (!signature || !timestamp) return send(res, 401, '{"error":"bad signature"}');
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let ok = false;
    try {
      const message = Buffer.concat([Buffer.from(timestamp), body]);
      ok = crypto.verify(null, message, key, Buffer.from(signature, 'hex'));
    } catch (e) {
      ok = false;
    }
    if (!ok) return send(res, 401, '{"error":"bad signature"}');
    let interaction;
    try {
      interaction = JSON.parse(body);
    } catch (e) {
      return send(res, 400, '{"error":"not an interaction"}');
    }
    if (interaction.type === 1) return send(res, 200, '{"type":1}');
    if (interaction.type === 2 && interaction.data && interaction.data.name === 'ping') {
      return send(res, 200, '{"type":4,"data":{"content":"pong"}}');
    }
    send(res, 200, '{"type":4,"data":{"content":"unknown command","flags":64}}');
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`${address}:${port}`);
});
