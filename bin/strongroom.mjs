#!/usr/bin/env node
// The `strongroom` CLI. The sources are TypeScript; tsx's loader (installed by `npm ci`) compiles them on the
// fly, so this file runs with plain `node` and through `npx strongroom`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../shared/sdk/cli.ts');
process.exitCode = await main(process.argv.slice(2));
