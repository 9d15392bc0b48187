import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback SMTP endpoint in front of the test inbox that can be shut: open, it relays each connection to
 * the inbox byte for byte; shut, it greets with `554` (a refusing server), so the API's mailer fails the
 * way a real outage does, half-way through a request. `refuseRecipients(reply)` makes it a server of its own
 * that answers every RCPT TO with `reply` (`550 5.1.1 …` refuses an address for good, `452 4.2.2 …` for now)
 * and delivers nothing.
 */
export async function startSmtpGate(inboxSmtpUrl: string) {
  const target = new URL(inboxSmtpUrl);
  let open = true;
  let rcptReply: string | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (!open) {
      client.end('554 5.3.2 Service unavailable for this test\r\n');
      return;
    }
    if (rcptReply) {
      refusingDialogue(client, rcptReply);
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
      rcptReply = undefined;
    },
    refuseRecipients: (reply: string) => {
      rcptReply = reply;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A minimal SMTP server (RFC 5321, no PIPELINING) whose every RCPT TO gets `rcptReply`. */
function refusingDialogue(client: Socket, rcptReply: string): void {
  let buffer = '';
  let inData = false;
  client.write('220 refusing.test ESMTP\r\n');
  client.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (inData) {
        if (line === '.') {
          inData = false;
          client.write('250 2.0.0 Ok\r\n');
        }
        continue;
      }
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') client.write('250-refusing.test\r\n250 8BITMIME\r\n');
      else if (verb === 'RCPT') client.write(`${rcptReply}\r\n`);
      else if (verb === 'DATA') {
        inData = true;
        client.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (verb === 'QUIT') client.end('221 2.0.0 Bye\r\n');
      else client.write('250 2.0.0 Ok\r\n');
    }
  });
}
