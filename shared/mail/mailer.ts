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
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailSendError';
  }
}
