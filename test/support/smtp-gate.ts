import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback SMTP endpoint in front of the test inbox that can be shut: open, it relays each connection to
 * the inbox byte for byte; shut, it greets with `554` (a refusing server), so the API's mailer fails the
 * way a real outage does, half-way through a request.
 */
export async function startSmtpGate(inboxSmtpUrl: string) {
  const target = new URL(inboxSmtpUrl);
  let open = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (!open) {
      client.end('554 5.3.2 Service unavailable for this test\r\n');
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    shut: () => {
      open = false;
    },
    open: () => {
      open = true;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
