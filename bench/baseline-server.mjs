// The benchmark's baseline: a webhook that admits every review without looking at it.
// It shares the guard's HTTP stack (Node.js HTTPS with TLSv1.2 or later, express 5,
// express.json with the same body limit and content types, the same keep-alive
// timeout), so the guard/baseline ratio shows what evaluation, recording and logging
// cost. run.mjs starts it; it serves on 127.0.0.1 only.
//
// Usage: node bench/baseline-server.mjs --port N --cert FILE --key FILE --body-limit BYTES
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';
import express from 'express';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'body-limit': { type: 'string' },
  },
  strict: true,
});
for (const name of ['port', 'cert', 'key', 'body-limit']) {
  if (values[name] === undefined) {
    process.stderr.write(`baseline-server: --${name} is missing\n`);
    process.exit(2);
  }
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
const parseJson = express.json({ limit: Number(values['body-limit']), type: ['application/json', '+json'] });
const admit = (req, res) => {
  const body = req.body ?? {};
  res.json({ apiVersion: body.apiVersion, kind: body.kind, response: { uid: body.request?.uid, allowed: true } });
};
app.post('/mutate', parseJson, admit);
app.post('/validate', parseJson, admit);

const server = createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key), minVersion: 'TLSv1.2' }, app);
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1');

const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
