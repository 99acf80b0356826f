// The cache-hit ceilings: a bare node:http server and a plain Express app, each serving the hit's exact bytes.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import express from 'express';
import { FIRST_PAGE } from './page.js';

const { values } = parseArgs({
  options: { kind: { type: 'string' } },
});
const port = Number(process.env.PORT ?? 0);
const body = Buffer.from(FIRST_PAGE);

if (values.kind === 'node') {
  const server = createServer((req, res) => {
    if (!(req.url ?? '').startsWith('/v3/batches')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.listen(port, '127.0.0.1');
} else if (values.kind === 'express') {
  // No middleware at all; only the two settings the proxy also turns off, so the gap is the proxy's own work.
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/v3/batches', (_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.send(body);
  });
  app.listen(port, '127.0.0.1');
} else {
  process.stderr.write('usage: PORT=N ceilings.js --kind node|express\n');
  process.exit(2);
}
