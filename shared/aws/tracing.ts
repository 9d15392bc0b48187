/**
 * The Powertools X-Ray tracer: subsegments for each request's handler and each AWS call. Loaded by
 * ./runtime.ts with `await import()` only where STRONGROOM_TRACING is `on` (./config.ts), so it is a chunk of
 * its own in a bundle (infra/constructs/bundling.ts) that other cold starts neither parse nor run.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { SERVICE_NAME } from '../observability.js';

export const tracer = new Tracer({ serviceName: SERVICE_NAME });

/** The middy middleware that opens a subsegment around one invocation of the handler. */
export const handlerMiddleware = () => captureLambdaHandler(tracer, { captureResponse: false });
