import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

const MIN_MOTO_MAJOR = 5;

/** Where a usable `moto_server` lives: one of version ≥ 5 on PATH, else the project's `.venv`. */
export function findMotoServer(projectRoot: string, log: (line: string) => void = () => {}): string {
  const venvBin = path.join(projectRoot, '.venv', 'bin', 'moto_server');
  if (existsSync(venvBin)) return venvBin;
  const onPath = whichMoto();
  if (onPath) {
    const version = motoVersion('python3');
    if (version !== undefined && version >= MIN_MOTO_MAJOR) return onPath;
  }
  log(`No moto_server ${MIN_MOTO_MAJOR}+ on PATH: installing 'moto[server]' into .venv (first run only)…`);
  execFileSync('python3', ['-m', 'venv', path.join(projectRoot, '.venv')], { stdio: 'inherit' });
  execFileSync(path.join(projectRoot, '.venv', 'bin', 'pip'), ['install', '--quiet', 'moto[server]>=5'], {
    stdio: 'inherit',
  });
  return venvBin;
}

/**
 * How to start the emulator: moto's server through `moto-server.py`, which makes each DynamoDB request
 * atomic as it is on AWS (moto's own server lets concurrent conditional updates pass the same
 * condition), with the Python that has the moto `findMotoServer` chose.
 */
export function motoCommand(projectRoot: string, log?: (line: string) => void): [string, string[]] {
  const server = findMotoServer(projectRoot, log);
  const venvPython = path.join(projectRoot, '.venv', 'bin', 'python');
  const python = server.startsWith(path.join(projectRoot, '.venv')) ? venvPython : 'python3';
  return [python, [path.join(projectRoot, 'infra', 'local', 'moto-server.py')]];
}

function whichMoto(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function motoVersion(python: string): number | undefined {
  try {
    const out = execFileSync(python, ['-c', 'import importlib.metadata as m; print(m.version("moto"))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return Number.parseInt(out.trim().split('.')[0] ?? '', 10);
  } catch {
    return undefined;
  }
}

/** Resolves true when nothing listens on host:port. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A free loopback port chosen by the OS. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface MotoHandle {
  endpoint: string;
  process: ChildProcess;
  /** The emulator's resident memory in bytes now, or undefined where it cannot be read. */
  residentBytes(): number | undefined;
  stop(): Promise<void>;
}

/** Resident memory of a process in bytes, from /proc on Linux, else `ps`; undefined when unknown or gone. */
export function residentBytesOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (kib !== undefined) return Number(kib) * 1024;
  } catch {
    // not Linux, or the process is gone
  }
  try {
    const kib = Number.parseInt(
      execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
      10,
    );
    return Number.isFinite(kib) ? kib * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const MIB = 1024 * 1024;
/** Where local mode starts warning about the emulator's memory unless STRONGROOM_MOTO_WARN_MB says otherwise. */
export const DEFAULT_EMULATOR_WARN_BYTES = 1024 * MIB;

/**
 * Watches the emulator's resident memory while local mode runs, and says so, once per doubling, when it
 * passes `warnBytes`: long before it can take the machine down (moto keeps all its state in memory, and
 * an unbounded growth once reached 23 GB). `read` returns the current figure (undefined: unknown).
 */
export function watchEmulatorMemory(options: {
  read: () => number | undefined;
  log: (line: string) => void;
  warnBytes?: number;
  intervalMs?: number;
}): { check(): void; stop(): void } {
  const fromEnv = Number(process.env.STRONGROOM_MOTO_WARN_MB);
  let threshold =
    options.warnBytes ??
    (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv * MIB : DEFAULT_EMULATOR_WARN_BYTES);
  const check = () => {
    const bytes = options.read();
    if (bytes === undefined || bytes < threshold) return;
    options.log(
      `warning: the AWS emulator (moto) now holds ${Math.round(bytes / MIB)} MiB of memory. It keeps all ` +
        'state in memory; restart `npm run local` (state is not kept) before it strains this machine.',
    );
    while (threshold <= bytes) threshold *= 2;
  };
  const timer = setInterval(check, options.intervalMs ?? 15_000);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

/** Starts `moto_server` on loopback and waits until it answers. */
export async function startMoto(options: {
  projectRoot: string;
  port: number;
  host?: string;
  log?: (l: string) => void;
}) {
  const host = options.host ?? '127.0.0.1';
  const [command, args] = motoCommand(options.projectRoot, options.log);
  const child = spawn(command, [...args, '-H', host, '-p', String(options.port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Two malloc arenas: a thread per request otherwise spreads freed memory over many (see moto-server.py).
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false', MALLOC_ARENA_MAX: '2' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const endpoint = `http://${host}:${options.port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${stderr.trim()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  if (Date.now() >= deadline) {
    child.kill('SIGKILL');
    throw new Error(`moto_server did not start on ${endpoint} within 30 s: ${stderr.trim()}`);
  }
  const handle: MotoHandle = {
    endpoint,
    process: child,
    residentBytes: () => residentBytesOf(child.pid),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
  return handle;
}

/** Clears all emulator state (moto accepts only POST here). */
export async function resetMoto(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
}
