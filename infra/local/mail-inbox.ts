import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MailDev } from 'maildev';

export interface MailInbox {
  /** `smtp://host:port`: what the functions send to (MAIL_SMTP_URL). */
  smtpUrl: string;
  /** The web inbox, to read the mails in a browser. */
  webUrl: string;
  /** MailDev's REST API (`GET /api/email`, …). */
  apiUrl: string;
  stop(): Promise<void>;
}

/**
 * A real SMTP server on loopback with a web inbox (MailDev): local mode and the integration tests send
 * every mail here. Port 0 takes a free port. Mails are kept in a directory of this run, removed on stop.
 */
export async function startMailInbox(options: {
  host?: string;
  smtpPort?: number;
  webPort?: number;
}): Promise<MailInbox> {
  const host = options.host ?? '127.0.0.1';
  const mailDirectory = await mkdtemp(path.join(tmpdir(), 'strongroom-mail-'));
  const maildev = new MailDev({
    smtp: options.smtpPort ?? 0,
    web: options.webPort ?? 0,
    ip: host,
    webIp: host,
    mailDirectory,
    silent: true,
  });
  const log = console.log;
  let servers: Awaited<ReturnType<MailDev['start']>>;
  try {
    // MailDev announces its API on stdout even when silent; local mode prints its own lines.
    console.log = () => {};
    servers = await maildev.start();
  } finally {
    console.log = log;
  }
  const smtpPort = (servers.smtp as unknown as { getPort(): number }).getPort();
  const webPort = (servers.api as unknown as { getPort(): number }).getPort();
  const web = `http://${host}:${webPort}`;
  return {
    smtpUrl: `smtp://${host}:${smtpPort}`,
    // MailDev 3 serves its page at /index.html (its bare / answers 404).
    webUrl: `${web}/index.html`,
    apiUrl: `${web}/api`,
    stop: async () => {
      await maildev.stop();
      await rm(mailDirectory, { recursive: true, force: true });
    },
  };
}
