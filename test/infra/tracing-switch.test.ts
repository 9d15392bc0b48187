import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { StrongroomFunction, TRACING_CONTEXT_KEY } from '../../infra/constructs/strongroom-function.js';
import { PROJECT_ROOT } from '../../infra/stacks/stateless-stack.js';
import { CONTEXT_KEYS } from '../../infra/strongroom.js';
import { ENV_VARS } from '../../shared/aws/config.js';

/** `strongroom:tracing` (CDK context) switches the Powertools tracer on in every function, or leaves it off. */
const dir = mkdtempSync(join(tmpdir(), 'strongroom-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const entry = join(dir, 'handler.ts');
writeFileSync(entry, "export const handler = async () => 'ok';\n");

/** The environment of a function synthesised with `context`. */
function environmentWith(context: Record<string, unknown>): Record<string, unknown> {
  return functionWith(context).Environment.Variables;
}

function functionWith(context: Record<string, unknown>) {
  const app = new App({ outdir: join(dir, `out-${Object.keys(context).length}-${Math.random()}`), context });
  const stack = new Stack(app, 'Tracing');
  new StrongroomFunction(stack, 'Fn', { entry, projectRoot: PROJECT_ROOT, description: 'fn' });
  const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
  return fn!.Properties;
}

describe('the tracing switch', () => {
  it('sets STRONGROOM_TRACING=on only when the context says on; Lambda active tracing either way', () => {
    // Act
    const off = environmentWith({});
    const on = environmentWith({ [TRACING_CONTEXT_KEY]: 'on' });
    const offExplicitly = environmentWith({ [TRACING_CONTEXT_KEY]: 'off' });

    // Assess
    expect(CONTEXT_KEYS.tracing).toBe(TRACING_CONTEXT_KEY);
    expect(off[ENV_VARS.tracing]).toBeUndefined();
    expect(offExplicitly[ENV_VARS.tracing]).toBeUndefined();
    expect(on[ENV_VARS.tracing]).toBe('on');
    expect(functionWith({}).TracingConfig).toEqual({ Mode: 'Active' });
  });

  it('refuses any other value, naming the key', () => {
    // Act / Assess
    for (const value of ['yes', 'ON', 1])
      expect(() => environmentWith({ [TRACING_CONTEXT_KEY]: value })).toThrow(
        `${TRACING_CONTEXT_KEY}: "on" or "off", not ${JSON.stringify(value)}`,
      );
  });
});
