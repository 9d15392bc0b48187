import type { FunctionRuntime } from '../aws/runtime.js';
import type { Mailer } from './mailer.js';
import { SesMailer } from './ses-mailer.js';
import { SmtpMailer } from './smtp-mailer.js';
import type { MailLinks } from './templates.js';

/**
 * The mailer and link base of a function, from its runtime: SMTP when MAIL_SMTP_URL is set (local mode and
 * tests only), else SES through the runtime's SES client. Read once at module load, like every other setting.
 */
export function mailFor(runtime: FunctionRuntime): { mailer: Mailer; links: MailLinks } {
  const from = runtime.require('mailFrom');
  const links = { consoleUrl: runtime.require('consoleUrl') };
  const smtp = runtime.optional('mailSmtpUrl');
  if (smtp) return { mailer: new SmtpMailer(smtp, from), links };
  const ses = async () => runtime.client((await import('@aws-sdk/client-sesv2')).SESv2Client);
  return { mailer: new SesMailer(ses, from), links };
}
