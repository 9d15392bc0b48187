import { spawn } from 'node:child_process';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { PROJECT_ROOT } from '../../infra/local/system.js';

// As package.json's `local` script runs it: node itself with tsx's loader, so Ctrl-C reaches the process
// that stops the emulator (tsx's own CLI relays signals to a child and SIGKILLs it when the child does not
// report the signal within 30 ms, which a loaded machine misses).
const LOCAL = ['--import', 'tsx', 'infra/local/main.ts'];

/** `npm run local` running as a child process, as a person runs it. */
export interface LocalRun {
  /** The API's origin, `http://127.0.0.1:<port>`. */
  origin: string;
  /** Everything the process printed so far. */
  output(): string;
  /** The first group of `pattern` in what it printed at start (a URL it announces), or ''. */
  printed(pattern: RegExp): string;
  /** Ctrl-C, and a kill if it has not stopped two seconds later. */
  stop(): Promise<void>;
}

/**
 * Starts `npm run local` (tsx infra/local/main.ts, with its own emulator, mail server and inbox) on free
 * ports, the API on `apiPort` when given, with `env` added and the functions' logs silenced, and waits up to
 * 150 s for it to say it is ready.
 */
export async function startLocalRun(
  options: { apiPort?: number; env?: Record<string, string> } = {},
): Promise<LocalRun> {
  try {
    return await startOnce(options);
  } catch (error) {
    // Another test file can take a port between freePorts() closing it and `npm run local` binding it;
    // that race, and only that, gets a second try on fresh ports.
    // (`npm run local` checks each port first, `is already in use`; a port taken after the check fails its
    // bind, EADDRINUSE.)
    if (!(error instanceof LocalRunExited) || !/is already in use|EADDRINUSE/.test(error.output)) throw error;
    return startOnce(options);
  }
}

class LocalRunExited extends Error {
  constructor(
    how: string,
    readonly output: string,
  ) {
    super(`npm run local exited (${how}) before it was ready:\n${output}`);
  }
}

async function startOnce(options: { apiPort?: number; env?: Record<string, string> }): Promise<LocalRun> {
  const [freeApi, motoPort, smtpPort, inboxPort] = await freePorts(4);
  const apiPort = options.apiPort ?? freeApi;
  const local = spawn(process.execPath, LOCAL, {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      STRONGROOM_PORT: String(apiPort),
      STRONGROOM_MOTO_PORT: String(motoPort),
      STRONGROOM_SMTP_PORT: String(smtpPort),
      STRONGROOM_INBOX_PORT: String(inboxPort),
      ...options.env,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    },
  });
  let out = '';
  local.stdout.on('data', (c: Buffer) => (out += c.toString()));
  local.stderr.on('data', (c: Buffer) => (out += c.toString()));
  // 'close' comes after the output has all been read (its last line is often the reason); a signal counts.
  let closed: string | undefined;
  local.on('close', (code, signal) => {
    closed = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  const exited = () => local.exitCode !== null || local.signalCode !== null;
  const run: LocalRun = {
    origin: `http://127.0.0.1:${apiPort}`,
    output: () => out,
    printed: (pattern) => pattern.exec(out)?.[1] ?? '',
    stop: async () => {
      if (exited()) return;
      local.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 2000));
      if (!exited()) local.kill('SIGKILL');
    },
  };
  const deadline = Date.now() + 150_000;
  while (!out.includes('Ctrl-C stops')) {
    if (closed !== undefined) throw new LocalRunExited(closed, out);
    if (Date.now() > deadline) {
      await run.stop();
      throw new Error(`npm run local did not start within 150 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return run;
}

/** `n` different free loopback ports: each is held until all are chosen, so none is handed out twice. */
async function freePorts(n: number): Promise<number[]> {
  const listening = await Promise.allSettled(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const servers = listening.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  const failed = listening.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return ports;
}
