import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One service name for every function (Powertools convention): created once, imported everywhere. */
export const SERVICE_NAME = 'strongroom';

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ serviceName: SERVICE_NAME, namespace: 'Strongroom' });
