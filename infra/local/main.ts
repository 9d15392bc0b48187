import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildConsole } from '../console/site.js';
import { seedDemo } from './seed.js';
import { PortInUseError, startLocalSystem } from './system.js';

/** `npm run local`: the whole system on loopback with no AWS account. */
async function main() {
  const apiPort = Number(process.env.STRONGROOM_PORT ?? 3000);
  const motoPort = Number(process.env.STRONGROOM_MOTO_PORT ?? 4566);
  const host = process.env.STRONGROOM_HOST ?? '127.0.0.1';
  const awsEndpoint = process.env.STRONGROOM_AWS_ENDPOINT || undefined;
  const smtpPort = Number(process.env.STRONGROOM_SMTP_PORT ?? 1025);
  const inboxPort = Number(process.env.STRONGROOM_INBOX_PORT ?? 1080);
  const oidcProvidersFile = process.env.STRONGROOM_OIDC_PROVIDERS || undefined;
  const log = (line: string) => process.stdout.write(`${line}\n`);

  log('Starting Strongroom locally…');
  // The console is built afresh into a directory of this run (removed on exit), so it always matches the API.
  const consoleDir = await mkdtemp(path.join(tmpdir(), 'strongroom-console-'));
  await buildConsole(consoleDir);
  const system = await startLocalSystem({
    host,
    apiPort,
    motoPort,
    awsEndpoint,
    log,
    consoleDir,
    smtpPort,
    inboxPort,
    oidcProvidersFile,
  });
  log('');
  log(`  Console        ${system.consoleUrl}`);
  log(`                 ${system.passkeyConsoleUrl}  (for passkeys: browsers refuse them on an IP address)`);
  log(`  API            ${system.apiUrl}`);
  log(`  Mail inbox     ${system.inbox.webUrl}  (every mail the system sends lands here)`);
  if (system.env.OIDC_PROVIDERS)
    log(
      `  Sign-in with   ${JSON.parse(system.env.OIDC_PROVIDERS)
        .map((p: { name: string }) => p.name)
        .join(', ')} (redirect URI ${system.consoleUrl ?? system.env.CONSOLE_URL})`,
    );
  log(`  AWS emulator   ${system.awsEndpoint}${awsEndpoint ? ' (yours)' : ' (moto, started here)'}`);
  log(
    `  Tables         ${system.env.IDENTITY_TABLE}, ${system.env.TENANT_DATA_TABLE}, ${system.env.AUDIT_TABLE}, ${system.env.AUDIT_CHAIN_TABLE}`,
  );
  const demo = await seedDemo(system.apiUrl, system.inbox.apiUrl);
  log('');
  log('Demo tenant (new every run):');
  log(`  owner e-mail   ${demo.email}`);
  log(`  password       ${demo.password}`);
  log(`  tenant id      ${demo.tenantId}`);
  log('');
  log('Try it:');
  log(`  curl -s ${system.apiUrl}/health`);
  log(`  curl -s ${system.apiUrl}/openapi.json | head -c 400`);
  log(
    `  TOKEN=$(curl -s ${system.apiUrl}/v1/auth/login -H 'content-type: application/json' \\\n` +
      `      -d '{"email":"${demo.email}","password":"${demo.password}"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')`,
  );
  log(`  curl -s ${system.apiUrl}/v1/tenants/${demo.tenantId}/members -H "authorization: Bearer $TOKEN"`);
  log('');
  log('Ctrl-C stops everything started here.');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log('\nStopping…');
    await system.stop();
    await rm(consoleDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof PortInUseError) {
    process.stderr.write(`strongroom local: ${error.message}\n`);
  } else {
    process.stderr.write(
      `strongroom local: could not start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  process.exit(1);
});
