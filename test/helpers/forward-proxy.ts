// A small HTTP forward proxy on 127.0.0.1 — CONNECT tunnels and absolute-form requests — that records what passes.
import { createServer, request } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface ProxiedRequest {
  /** CONNECT for a tunnel, else the method of an absolute-form request. */
  method: string;
  /** `host:port` for a tunnel, the absolute URL otherwise. */
  target: string;
  proxyAuthorization: string | undefined;
}

export interface ForwardProxy {
  url: string;
  readonly seen: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startForwardProxy(): Promise<ForwardProxy> {
  const seen: ProxiedRequest[] = [];
  const tunnels = new Set<Socket>();
  const server = createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      target: req.url ?? '',
      proxyAuthorization: req.headers['proxy-authorization'],
    });
    const target = new URL(req.url ?? '');
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const onward = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    onward.on('error', () => res.destroy());
    req.pipe(onward);
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    seen.push({
      method: 'CONNECT',
      target: req.url ?? '',
      proxyAuthorization: req.headers['proxy-authorization'],
    });
    const { hostname, port } = new URL(`http://${req.url ?? ''}`);
    const onward = connect(Number(port), hostname, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      onward.write(head);
      onward.pipe(client);
      client.pipe(onward);
    });
    for (const socket of [client, onward]) {
      tunnels.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        tunnels.delete(socket);
        client.destroy();
        onward.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      for (const socket of tunnels) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
