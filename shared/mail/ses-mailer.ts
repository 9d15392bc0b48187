import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { type Mailer, type MailMessage, MailSendError } from './mailer.js';

/**
 * Mail through Amazon SES (API v2), from the stage's verified identity. The function may send only from
 * that identity (its IAM grant names it); SES refuses anything else.
 */
export class SesMailer implements Mailer {
  constructor(
    private readonly ses: Pick<SESv2Client, 'send'>,
    private readonly from: string,
  ) {}

  async send(message: MailMessage): Promise<void> {
    try {
      await this.ses.send(
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
      throw new MailSendError(`SES did not accept the message: ${(error as Error).name}`, { cause: error });
    }
  }
}
