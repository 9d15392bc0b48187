import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../infra/local/system.js';

/**
 * The clients that are not ours: the AWS CLI and a Python with boto3. Found on PATH, else in the project's
 * .venv, where they are pip-installed on first use (as local mode does for moto), so `npm test` needs
 * nothing more than Python 3 on a fresh machine.
 */
function onPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const VENV = join(PROJECT_ROOT, '.venv');

function venvInstall(requirement: string): void {
  if (!existsSync(join(VENV, 'bin', 'pip')))
    execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  execFileSync(join(VENV, 'bin', 'pip'), ['install', '--quiet', requirement], { stdio: 'inherit' });
}

/** The AWS CLI (v1 or v2). */
export function awsCli(): string {
  const found = onPath('aws');
  if (found) return found;
  const venvAws = join(VENV, 'bin', 'aws');
  if (!existsSync(venvAws)) venvInstall('awscli');
  return venvAws;
}

const hasBoto3 = (python: string) => {
  try {
    execFileSync(python, ['-c', 'import boto3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** A Python interpreter that can import boto3. */
export function pythonWithBoto3(): string {
  const system = onPath('python3');
  if (system && hasBoto3(system)) return system;
  const venvPython = join(VENV, 'bin', 'python');
  if (!existsSync(venvPython) || !hasBoto3(venvPython)) venvInstall('boto3');
  return venvPython;
}

/** The environment of a child that must find its AWS settings only where the test puts them. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('AWS_') || name.startsWith('STRONGROOM_') || name.startsWith('npm_')) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}
