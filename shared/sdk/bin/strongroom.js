#!/usr/bin/env node
// The `strongroom` CLI of the installed package: the compiled CLI, run with plain node.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
