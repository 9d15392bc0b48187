import type { Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { functionRuntime } from '../../shared/aws/runtime.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { auditAppendsOf } from '../../shared/store/audit-appends.js';
import { auditSequencerFor, startLocalSequencer } from '../../shared/store/audit-sequencer.js';
import { CONSOLE_BASE_PATH } from '../console/site.js';
import { consoleFileServer } from './console-files.js';
import { AREA_HANDLERS } from './handlers.js';
import { type MailInbox, startMailInbox } from './mail-inbox.js';
import { type MotoHandle, portIsFree, startMoto, watchEmulatorMemory } from './moto.js';
import { provisionLocalOidcProviders } from './oidc-providers.js';
import { provisionLocal } from './provision.js';
import { createLocalApiServer } from './server.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LocalSystemOptions {
  host?: string;
  apiPort: number;
  /** Use this emulator instead of starting one. */
  awsEndpoint?: string;
  motoPort?: number;
  region?: string;
  stage?: string;
  log?: (line: string) => void;
  /** A built console to serve under /console/ (see buildConsole). */
  consoleDir?: string;
  /** The local inbox's SMTP port (0: any free one). @default 1025 */
  smtpPort?: number;
  /** The local inbox's web port (0: any free one). @default 1080 */
  inboxPort?: number;
  /**
   * A JSON file of platform OpenID providers with their client secrets (infra/local/oidc-providers.ts;
   * `STRONGROOM_OIDC_PROVIDERS`). @default none
   */
  oidcProvidersFile?: string;
  /**
   * Runs the audit sequencer in this process, as the stream trigger would in AWS. Off only where every AWS
   * call in the process must be a request's own (the bench's calls per request). @default true
   */
  sequencer?: boolean;
}

/** The sender of local mode's mails (nothing leaves the machine: they go to the local inbox). */
export const LOCAL_MAIL_FROM = 'Strongroom <no-reply@strongroom.local>';

export interface LocalSystem {
  apiUrl: string;
  /** Where the console is served, when it is. */
  consoleUrl?: string;
  /** The console on `localhost`, where browsers allow passkeys (never on an IP address). */
  passkeyConsoleUrl?: string;
  /** The web inbox that receives every mail the system sends, and its REST API. */
  inbox: { webUrl: string; apiUrl: string };
  awsEndpoint: string;
  env: Record<string, string>;
  /** Resident memory of the emulator started here (undefined when given one, or unknown). */
  emulatorResidentBytes?: () => number | undefined;
  stop(): Promise<void>;
}

/** Thrown when a port the local system needs is taken; carries a message for people, not a stack. */
export class PortInUseError extends Error {
  constructor(what: string, port: number, envVar: string) {
    super(
      `Port ${port} (${what}) is already in use. Stop whatever holds it, or choose another port with ${envVar}=<port>.`,
    );
    this.name = 'PortInUseError';
  }
}

/** Applies the provisioned environment to this process, as Lambda's configuration would. */
export function applyEnvironment(env: Record<string, string>): void {
  Object.assign(process.env, env, {
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_DEV: process.env.POWERTOOLS_DEV ?? 'false',
  });
}

/** Starts the emulator (unless given one), provisions it, and serves the API on loopback. */
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const region = options.region ?? 'us-east-1';
  const stage = options.stage ?? 'local';
  if (!(await portIsFree(options.apiPort, host)))
    throw new PortInUseError('API', options.apiPort, 'STRONGROOM_PORT');

  let moto: MotoHandle | undefined;
  let awsEndpoint = options.awsEndpoint;
  if (!awsEndpoint) {
    const motoPort = options.motoPort ?? 4566;
    if (!(await portIsFree(motoPort, host)))
      throw new PortInUseError('AWS emulator', motoPort, 'STRONGROOM_MOTO_PORT');
    moto = await startMoto({ projectRoot: PROJECT_ROOT, port: motoPort, host, log });
    awsEndpoint = moto.endpoint;
  }
  const smtpPort = options.smtpPort ?? 1025;
  const inboxPort = options.inboxPort ?? 1080;
  for (const [what, port, envVar] of [
    ['mail SMTP', smtpPort, 'STRONGROOM_SMTP_PORT'],
    ['mail inbox', inboxPort, 'STRONGROOM_INBOX_PORT'],
  ] as const) {
    if (port !== 0 && !(await portIsFree(port, host))) {
      await moto?.stop();
      throw new PortInUseError(what, port, envVar);
    }
  }
  let inbox: MailInbox;
  try {
    inbox = await startMailInbox({ host, smtpPort, webPort: inboxPort });
  } catch (error) {
    await moto?.stop();
    throw error;
  }
  const started = moto;
  const memoryWatch = started
    ? watchEmulatorMemory({ read: () => started.residentBytes(), log })
    : { check() {}, stop() {} };
  try {
    const env = {
      ...(await provisionLocal({ endpoint: awsEndpoint, region, stage })),
      MAIL_SMTP_URL: inbox.smtpUrl,
      MAIL_FROM: LOCAL_MAIL_FROM,
      CONSOLE_URL: `http://${host}:${options.apiPort}${CONSOLE_BASE_PATH}`,
      // Browsers refuse an IP address as a passkey's relying party: passkeys work on http://localhost:<port>.
      PASSKEY_RP_ID: 'localhost',
      PASSKEY_ORIGINS: `http://localhost:${options.apiPort}`,
      ...(options.oidcProvidersFile
        ? await provisionLocalOidcProviders({
            file: options.oidcProvidersFile,
            endpoint: awsEndpoint,
            region,
            stage,
          })
        : {}),
    };
    applyEnvironment(env);
    // In AWS the audit table's stream drives the sequencer; locally it runs in this process.
    // The handlers build on the same runtime (functionRuntime() of this environment), so the sequencer hears
    // their appends.
    const runtime = functionRuntime();
    const sequencer =
      options.sequencer === false
        ? undefined
        : startLocalSequencer({
            sequencer: auditSequencerFor(runtime),
            appends: auditAppendsOf(runtime),
            onError: (error) =>
              log(`audit sequencer: ${error instanceof Error ? error.message : String(error)}`),
          });
    const server: Server = createLocalApiServer({
      routes: ROUTES,
      handlers: AREA_HANDLERS,
      ...(options.consoleDir ? { console: consoleFileServer(options.consoleDir) } : {}),
      onError: (error) =>
        log(`local server error: ${error instanceof Error ? error.message : String(error)}`),
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.apiPort, host, () => resolve());
    });
    return {
      apiUrl: `http://${host}:${options.apiPort}`,
      ...(options.consoleDir
        ? {
            consoleUrl: `http://${host}:${options.apiPort}${CONSOLE_BASE_PATH}`,
            passkeyConsoleUrl: `http://localhost:${options.apiPort}${CONSOLE_BASE_PATH}`,
          }
        : {}),
      inbox: { webUrl: inbox.webUrl, apiUrl: inbox.apiUrl },
      awsEndpoint,
      env,
      emulatorResidentBytes: started ? () => started.residentBytes() : undefined,
      stop: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await sequencer?.stop();
        memoryWatch.stop();
        await inbox.stop();
        await moto?.stop();
      },
    };
  } catch (error) {
    memoryWatch.stop();
    await inbox.stop();
    await moto?.stop();
    throw error;
  }
}
