import { type Mailer, type MailMessage, MailSendError } from './mailer.js';

/**
 * Mail over SMTP, for local mode and the tests (MailDev on loopback). nodemailer is loaded on first use
 * and is not part of any Lambda bundle: deployed functions send through SES.
 */
export class SmtpMailer implements Mailer {
  #transport: Promise<{ sendMail(m: object): Promise<unknown> }> | undefined;

  constructor(
    private readonly url: string,
    private readonly from: string,
  ) {}

  async send(message: MailMessage): Promise<void> {
    this.#transport ??= this.#connect();
    try {
      const transport = await this.#transport;
      await transport.sendMail({ from: this.from, ...message });
    } catch (error) {
      throw new MailSendError(`The SMTP server did not accept the message: ${(error as Error).message}`, {
        cause: error,
        recipientRefused: refusedRecipient(error),
      });
    }
  }

  async #connect() {
    const target = new URL(this.url);
    if (target.protocol !== 'smtp:') throw new MailSendError(`Not an smtp: URL: ${target.protocol}`);
    const { default: nodemailer } = await import('nodemailer');
    return nodemailer.createTransport({
      host: target.hostname,
      port: Number(target.port || 25),
      secure: false,
      // A local development inbox on loopback: plain SMTP, no STARTTLS negotiation.
      ignoreTLS: true,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
      socketTimeout: 10_000,
    });
  }
}

/**
 * Whether nodemailer's error is a permanent refusal of the recipient: a 5xx reply to RCPT TO (550 no such
 * mailbox, 553 bad address, …). A 4xx there (452 mailbox full, greylisting) is transient, and a 5xx to the
 * greeting, MAIL FROM or DATA is the server's or the message's problem, not the address's.
 */
function refusedRecipient(error: unknown): boolean {
  const e = error as { responseCode?: number; command?: string };
  return (
    typeof e.responseCode === 'number' &&
    e.responseCode >= 500 &&
    e.responseCode < 600 &&
    e.command === 'RCPT TO'
  );
}
