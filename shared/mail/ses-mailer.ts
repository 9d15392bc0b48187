import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { type Mailer, type MailMessage, MailSendError } from './mailer.js';

/**
 * SES errors that refuse the message for its recipient, for good: `MessageRejected` (in the sandbox, an
 * unverified recipient; otherwise a rejected address) and `BadRequestException` (an address SES cannot
 * parse; the sender and content are the stage's own). Throttling, sending paused and 5xx are transient.
 */
const SES_RECIPIENT_REFUSALS: readonly string[] = ['MessageRejected', 'BadRequestException'];

/**
 * Mail through Amazon SES (API v2), from the stage's verified identity. The function may send only from
 * that identity (its IAM grant names it); SES refuses anything else. The SES client module is loaded at the
 * first mail (a chunk of its own in a bundle): most requests of the functions that send mail send none.
 */
export class SesMailer implements Mailer {
  /** The client, or how to make it at first use (`mailFor` loads the client's module then). */
  constructor(
    private readonly ses: Pick<SESv2Client, 'send'> | (() => Promise<Pick<SESv2Client, 'send'>>),
    private readonly from: string,
  ) {}

  async send(message: MailMessage): Promise<void> {
    const { SendEmailCommand } = await import('@aws-sdk/client-sesv2');
    const ses = typeof this.ses === 'function' ? await this.ses() : this.ses;
    try {
      await ses.send(
        new SendEmailCommand({
          FromEmailAddress: this.from,
          Destination: { ToAddresses: [message.to] },
          Content: {
            Simple: {
              Subject: { Data: message.subject, Charset: 'UTF-8' },
              Body: {
                Text: { Data: message.text, Charset: 'UTF-8' },
                Html: { Data: message.html, Charset: 'UTF-8' },
              },
            },
          },
        }),
      );
    } catch (error) {
      throw new MailSendError(`SES did not accept the message: ${(error as Error).name}`, {
        cause: error,
        recipientRefused: SES_RECIPIENT_REFUSALS.includes((error as Error).name),
      });
    }
  }
}
