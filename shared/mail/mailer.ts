/**
 * The mail port: how the services send e-mail, whatever carries it (Amazon SES in AWS, SMTP to a local
 * inbox in local mode and tests). A message is plain text with an HTML alternative, to one recipient.
 */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  /** Sends one message; resolves once the carrier accepted it, throws (MailSendError) when it did not. */
  send(message: MailMessage): Promise<void>;
}

/** The carrier refused or could not be reached: the message was not sent. */
export class MailSendError extends Error {
  /**
   * The carrier refused the recipient's address for good (SMTP 5xx to RCPT TO, SES MessageRejected or a bad
   * address): sending again will not help, the address must change. Anything else (an outage, a 4xx,
   * throttling) is transient.
   */
  readonly recipientRefused: boolean;

  constructor(message: string, options?: { cause?: unknown; recipientRefused?: boolean }) {
    super(message, options);
    this.name = 'MailSendError';
    this.recipientRefused = options?.recipientRefused === true;
  }
}
