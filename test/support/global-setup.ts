import type { TestProject } from 'vitest/node';
import { startMailInbox } from '../../infra/local/mail-inbox.js';
import { freePort, startMoto } from '../../infra/local/moto.js';
import { PROJECT_ROOT } from '../../infra/local/system.js';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
    /** The run's local inbox (MailDev): where the API's mails go, and its REST API to read them. */
    mailSmtpUrl: string;
    mailApiUrl: string;
  }
}

/**
 * One moto server and one mail inbox (MailDev) for the integration run, on free loopback ports; stopped
 * at the end.
 */
export default async function setup(project: TestProject) {
  const port = await freePort();
  const [moto, inbox] = await Promise.all([
    startMoto({ projectRoot: PROJECT_ROOT, port }),
    startMailInbox({ smtpPort: 0, webPort: 0 }),
  ]);
  project.provide('awsEndpoint', moto.endpoint);
  project.provide('mailSmtpUrl', inbox.smtpUrl);
  project.provide('mailApiUrl', inbox.apiUrl);
  return async () => {
    await inbox.stop();
    await moto.stop();
  };
}
