import { ServiceUnavailableError } from '../errors.js';
import { logger } from '../observability.js';
import type { Mailer, MailMessage } from './mailer.js';

/**
 * Sends a mail a request depends on: a carrier failure becomes a 503 that says nothing was sent (the
 * caller sends before it writes anything, so nothing was changed either).
 */
export async function deliver(mailer: Mailer, message: MailMessage): Promise<void> {
  try {
    await mailer.send(message);
  } catch (error) {
    logger.error('mail not sent', { error: (error as Error).message });
    throw new ServiceUnavailableError(
      30,
      'The mail could not be sent; nothing was changed. Try again in a moment.',
      error,
    );
  }
}
