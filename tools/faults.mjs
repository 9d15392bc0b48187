// `npm run faults`: the full fault matrix of test/integration/fault-injection.test.ts (every fault kind at
// every AWS step of every state-changing route; `npm test` runs one kind per step), as FAULTS_SHARDS runs
// (default 6; FAULTS_SHARD=i/n picks every n-th scenario), each with its own emulator, as many at a time as
// the machine has cores. A full run spends most of its time comparing whole snapshots of the emulator's
// state, which cost more than in proportion to that state: on 2 cores, one run of every scenario took 71
// minutes (and timed out on three routes), two shards side by side 33, six shards two at a time 10. Each
// shard's whole output goes to a log file; the test results are echoed here with the shard's number. Extra
// arguments go to vitest. Exits 1 when any shard fails.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// One shard when FAULTS_ONLY narrows the run to a few routes (more would mostly boot emulators).
const shards = Number(process.env.FAULTS_SHARDS ?? (process.env.FAULTS_ONLY ? 1 : 6));
if (!Number.isInteger(shards) || shards < 1) throw new Error('FAULTS_SHARDS must be a whole number ≥ 1');
const atOnce = Math.min(shards, availableParallelism());
const logs = join(process.cwd(), 'node_modules', '.cache', 'strongroom-faults');
mkdirSync(logs, { recursive: true });

/** Lines worth echoing (colours taken out): vitest's results, failures and summaries, not the functions' logs. */
const RESULT =
  /^\s*(✓|×|↓|FAIL|Test Files|Tests |Duration|\w*Error\b|[-+] |fault injection|not reached|finished by|expected failures)/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape that starts a colour code
const COLOUR = /\x1b\[[0-9;]*m/g;

/** The shards' processes while they run, to pass an interrupt on to (no shard starts after one). */
const children = new Set();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    interrupted = true;
    for (const child of children) child.kill(signal);
  });

/** Runs one shard; its exit code (1 when it could not start or was killed). */
const run = (shard) =>
  new Promise((resolve) => {
    const name = `[${shard}/${shards}]`;
    const log = join(logs, `shard-${shard}-of-${shards}.log`);
    const out = createWriteStream(log);
    const child = spawn(
      'npx',
      ['vitest', 'run', 'test/integration/fault-injection.test.ts', ...process.argv.slice(2)],
      {
        env: { ...process.env, FAULTS: 'full', FAULTS_SHARD: `${shard}/${shards}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.add(child);
    for (const stream of [child.stdout, child.stderr]) {
      stream.pipe(out, { end: false });
      createInterface({ input: stream }).on('line', (line) => {
        const plain = line.replace(COLOUR, '');
        if (RESULT.test(plain)) console.log(`${name} ${plain.slice(0, 400)}`);
      });
    }
    child.on('error', (error) => console.log(`${name} could not start: ${error.message}`));
    child.on('close', (code, signal) => {
      children.delete(child);
      console.log(`${name} ${signal ? `killed by ${signal}` : `exited ${code}`}; whole output: ${log}`);
      out.end(() => resolve(code ?? 1));
    });
  });

console.log(`fault matrix in ${shards} shard(s), ${atOnce} at a time; logs in ${logs}`);
const started = Date.now();
let next = 1;
const codes = [];
await Promise.all(
  Array.from({ length: atOnce }, async () => {
    while (next <= shards && !interrupted) codes.push(await run(next++));
  }),
);
console.log(
  `fault matrix: ${codes.filter((c) => c !== 0).length} of ${shards} shard(s) failed, in ${Math.round((Date.now() - started) / 60_000)} minutes`,
);
if (interrupted || codes.some((code) => code !== 0)) process.exitCode = 1;
