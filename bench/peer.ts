// The hand-written peer: Express 5 + http-proxy-middleware + jsonwebtoken, what a team writes in an afternoon.
// No query validation, no cache, no retries, no audit line: the proxy must do all of that and still cost less.
import { createSecretKey } from 'node:crypto';
import { Agent } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import jwt from 'jsonwebtoken';

const port = Number(process.env.PORT ?? 0);
const upstream = process.env.NTROPY_BASE_URL ?? 'http://127.0.0.1:1';
const apiKey = process.env.NTROPY_API_KEY ?? '';
const secret = createSecretKey(Buffer.from(process.env.JWT_SECRET ?? '', 'utf8'));

const forward = createProxyMiddleware({
  target: upstream,
  changeOrigin: true,
  agent: new Agent({ keepAlive: true }),
  on: {
    proxyReq(proxyReq) {
      // The client's credentials stay here; the server's key goes upstream.
      proxyReq.removeHeader('authorization');
      proxyReq.removeHeader('cookie');
      proxyReq.setHeader('x-api-key', apiKey);
    },
  },
});

const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.get(
  '/v3/batches',
  (req, res, next) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    try {
      if (token === undefined) throw new Error('no token');
      jwt.verify(token, secret, { algorithms: ['HS256'] });
    } catch {
      res.status(401).json({ error: 'unauthorized' });
      return;
    }
    next();
  },
  forward,
);
app.listen(port, '127.0.0.1');
