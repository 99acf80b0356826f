// Serves the demo's web page (src/demo/web/) as static files on its own port: a second origin (SPEC "Running").
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import helmet from 'helmet';

// Served from the source folder, from src/ (tests) and from dist/demo/ (npm run demo) alike: the page is
// a file, not a build, so an edit shows on reload and `npm run build` stays plain tsc.
const WEB_DIR = fileURLToPath(new URL('../../src/demo/web/', import.meta.url));

export interface WebServer {
  readonly server: Server;
  /** The page's origin, e.g. http://127.0.0.1:8081. */
  readonly origin: string;
  close(): Promise<void>;
}

export async function startWebServer(host: string, port: number): Promise<WebServer> {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          scriptSrc: ["'self'"],
          // The page's one <style> element; no third-party anything.
          styleSrc: ["'unsafe-inline'"],
          // The proxy is another origin, named at run time in the page's URL.
          connectSrc: ['http:', 'https:'],
          imgSrc: ['data:'],
          baseUri: ["'none'"],
          formAction: ["'none'"],
          frameAncestors: ["'none'"],
        },
      },
    }),
  );
  app.use(express.static(WEB_DIR, { index: 'index.html', fallthrough: true }));
  const server = createServer(app).listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const isAnyAddress = address.address === '0.0.0.0' || address.address === '::';
  const urlHost = isAnyAddress
    ? '127.0.0.1'
    : address.family === 'IPv6'
      ? `[${address.address}]`
      : address.address;
  return {
    server,
    origin: `http://${urlHost}:${address.port}`,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
