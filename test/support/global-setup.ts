import type { TestProject } from 'vitest/node';
import { freePort, startMoto } from '../../infra/local/moto.js';
import { PROJECT_ROOT } from '../../infra/local/system.js';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}

/** One moto server for the integration run, on a free loopback port; stopped at the end. */
export default async function setup(project: TestProject) {
  const port = await freePort();
  const moto = await startMoto({ projectRoot: PROJECT_ROOT, port });
  project.provide('awsEndpoint', moto.endpoint);
  return async () => {
    await moto.stop();
  };
}
