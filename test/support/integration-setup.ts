import { beforeAll, inject } from 'vitest';
import { resetMoto } from '../../infra/local/moto.js';
import { provisionLocal } from '../../infra/local/provision.js';
import { applyEnvironment } from '../../infra/local/system.js';

export const TEST_REGION = 'us-east-1';
export const TEST_STAGE = 'test';
/** Where the links in the tests' mails point (no console is served in these tests; the links are read). */
export const TEST_CONSOLE_URL = 'http://127.0.0.1/console/';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';

// Every file starts from an empty, freshly provisioned emulator.
beforeAll(async () => {
  const endpoint = inject('awsEndpoint');
  await resetMoto(endpoint);
  const env = await provisionLocal({ endpoint, region: TEST_REGION, stage: TEST_STAGE });
  applyEnvironment({
    ...env,
    MAIL_SMTP_URL: inject('mailSmtpUrl'),
    MAIL_FROM: 'Strongroom <no-reply@strongroom.test>',
    CONSOLE_URL: TEST_CONSOLE_URL,
  });
});
