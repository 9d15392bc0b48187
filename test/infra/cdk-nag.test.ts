import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Synthesised, synthStrongroom } from './synth.js';

interface ValidationReport {
  pluginReports: {
    pluginName: string;
    conclusion: string;
    violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

let synth: Synthesised;
beforeAll(() => {
  synth = synthStrongroom();
});
afterAll(() => synth?.cleanup());

describe('cdk-nag v3 (AwsSolutionsChecks) over every stack of every region', () => {
  it('leaves no finding unacknowledged, errors and warnings alike', () => {
    // Prepare
    const report = JSON.parse(
      readFileSync(join(synth.assembly.directory, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;

    // Act (a plugin without violations is left out of the report)
    const nag = report.pluginReports.filter((p) => p.pluginName === 'AwsSolutions');
    const findings = nag.flatMap((p) =>
      p.violations.map(
        (v) =>
          `${v.ruleName} (${v.severity}) at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
      ),
    );

    // Assess
    expect(findings).toEqual([]);
    expect(nag.every((p) => p.conclusion === 'success')).toBe(true);
  });

  it('gives every acknowledgement a reason that explains it', () => {
    // Prepare
    const acknowledgements: { path: string; id: string; reason: string }[] = [];
    for (const node of synth.app.node.findAll()) {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          acknowledgements.push({ path: node.node.path, id, reason });
        }
      }
    }

    // Act
    const weak = acknowledgements.filter(
      (a) => a.reason.trim().length < 60 || /\b(todo|fixme|tbd|later|ignore)\b/i.test(a.reason),
    );

    // Assess
    expect(acknowledgements.length).toBeGreaterThan(0);
    expect(weak).toEqual([]);
  });

  it('fails synthesis on a real finding (the check is live, not vacuous)', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'NagControl');
    new s3.Bucket(stack, 'PlainBucket');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    // Act
    const synthesise = () => app.synth();

    // Assess
    expect(synthesise).toThrow(/AwsSolutions-S10/);
  });
});
