import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, portIsFree } from '../../infra/local/moto.js';
import { PROJECT_ROOT } from '../../infra/local/system.js';

/** `npm run local` as a user runs it: a child process, its own moto, its printed instructions. */
// As package.json's `local` script runs it: node itself with tsx's loader, so Ctrl-C reaches the process
// that stops the emulator (tsx's own CLI relays signals to a child and SIGKILLs it when the child does not
// report the signal within 30 ms, which a loaded machine misses).
const LOCAL = ['--import', 'tsx', 'infra/local/main.ts'];

function startLocal(env: Record<string, string>) {
  const child = spawn(process.execPath, LOCAL, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function waitFor(predicate: () => boolean, ms: number) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

let apiPort: number;
let motoPort: number;
let local: ReturnType<typeof startLocal>;
let child: ChildProcessWithoutNullStreams;

beforeAll(async () => {
  apiPort = await freePort();
  motoPort = await freePort();
  local = startLocal({
    STRONGROOM_PORT: String(apiPort),
    STRONGROOM_MOTO_PORT: String(motoPort),
    STRONGROOM_SMTP_PORT: String(await freePort()),
    STRONGROOM_INBOX_PORT: String(await freePort()),
  });
  child = local.child;
  await waitFor(() => local.out().includes('Ctrl-C stops') || child.exitCode !== null, 60_000);
}, 90_000);

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm run local', () => {
  it('serves the API on loopback within 60 seconds and prints how to use the demo tenant', async () => {
    // Act / Assess: no stack trace; the API answers, and the printed demo owner signs in and lists members
    expect(local.err()).not.toMatch(/\n\s+at /);
    const health = await fetch(`http://127.0.0.1:${apiPort}/health`);
    expect(health.status).toBe(200);
    const email = /owner e-mail\s+(\S+)/.exec(local.out())?.[1];
    const password = /password\s+(\S+)/.exec(local.out())?.[1];
    const tenantId = /tenant id\s+(\S+)/.exec(local.out())?.[1];
    const login = await fetch(`http://127.0.0.1:${apiPort}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const members = await fetch(`http://127.0.0.1:${apiPort}/v1/tenants/${tenantId}/members`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(members.status).toBe(200);

    // Act / Assess: it prints the mail inbox, which holds the demo owner's verification mail (the seeding
    // followed its link).
    const inbox = /Mail inbox\s+(\S+)/.exec(local.out())?.[1];
    expect(inbox).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/index\.html$/);
    const page = await fetch(inbox!);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const mails = (await (await fetch(new URL('/api/email', inbox!))).json()) as { subject: string }[];
    expect(Array.isArray(mails)).toBe(true);

    // Act / Assess: the in-process sequencer chains the seeding's audit events (tenant created) within
    // moments.
    let verify: { ok: boolean; pending: number; checked: number } | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/tenants/${tenantId}/audit-events/verify`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      verify = (await res.json()) as typeof verify;
      if (verify!.pending === 0 && verify!.checked > 0) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(verify).toMatchObject({ ok: true, pending: 0 });
    expect(verify!.checked).toBeGreaterThan(0);
  });

  it('explains a port already in use instead of printing a stack trace', async () => {
    // Prepare: a second local run on the same API port
    const second = startLocal({
      STRONGROOM_PORT: String(apiPort),
      STRONGROOM_MOTO_PORT: String(await freePort()),
      STRONGROOM_SMTP_PORT: String(await freePort()),
      STRONGROOM_INBOX_PORT: String(await freePort()),
    });

    // Act / Assess
    expect(await second.exited).toBe(1);
    expect(second.err()).toContain(`Port ${apiPort} (API) is already in use`);
    expect(second.err()).toContain('STRONGROOM_PORT');
    expect(second.err()).not.toMatch(/\n\s+at /);
  });

  it('stops everything it started on Ctrl-C', async () => {
    // Act
    child.kill('SIGINT');

    // Assess: it exits cleanly, and the API's and the emulator's ports are free
    expect(await local.exited).toBe(0);
    expect(await portIsFree(apiPort)).toBe(true);
    const deadline = Date.now() + 5000;
    while (!(await portIsFree(motoPort)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect(await portIsFree(motoPort)).toBe(true);
  });
});
