import { ServiceUnavailableError, ValidationError } from '../errors.js';
import { logger } from '../observability.js';
import { type Mailer, type MailMessage, MailSendError } from './mailer.js';

/**
 * Sends a mail a request depends on: a carrier failure becomes a 503 that says nothing was sent (the
 * caller sends before it writes anything, so nothing was changed either). When the recipient is the
 * request's own field `field` (e.g. `body.email`) and the carrier refuses that address for good, the answer
 * is a 400 naming the field instead: retrying the same address cannot succeed.
 */
export async function deliver(mailer: Mailer, message: MailMessage, field?: string): Promise<void> {
  try {
    await mailer.send(message);
  } catch (error) {
    if (field && error instanceof MailSendError && error.recipientRefused) {
      logger.warn('mail recipient refused', { error: error.message });
      throw new ValidationError(
        [{ path: field, message: 'The mail server refused this address' }],
        'The mail could not be delivered to this address; nothing was changed.',
      );
    }
    logger.error('mail not sent', { error: (error as Error).message });
    throw new ServiceUnavailableError(
      30,
      'The mail could not be sent; nothing was changed. Try again in a moment.',
      error,
    );
  }
}
