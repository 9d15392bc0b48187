import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATEFUL_LOGICAL_IDS } from '../../infra/stacks/stateful-stack.js';
import { ENV_VARS } from '../../shared/aws/config.js';
import type { Statement } from './role-policies.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

let synth: Synthesised;
beforeAll(() => {
  synth = synthStrongroom();
});
afterAll(() => synth?.cleanup());

const actions = (s: Statement) => [s.Action].flat();

/** Each function's role, path and identity statements, by area. */
function functionsOf(region: number) {
  const stack = synth.stacks[region]!.stateless;
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy');
  return Object.entries(stack.functions).map(([area, fn]) => {
    const roleId = stack.getLogicalId(fn!.role.node.defaultChild as never);
    const statements = policies
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const fnId = stack.getLogicalId(fn!.function.node.defaultChild as never);
    return {
      area,
      path: resources[roleId]!.Properties.Path as string | undefined,
      statements,
      env: resources[fnId]!.Properties.Environment?.Variables ?? {},
    };
  });
}

describe('IAM for the per-tenant storage roles, as deployed', () => {
  it('the storage function’s role lives on the vending path the tenant roles trust; no other role does', () => {
    // Act / Assess: in each region's stack
    for (const [i, { region }] of synth.stacks.entries()) {
      const fns = functionsOf(i);
      expect(fns.find((f) => f.area === 'storage')!.path).toBe(
        `/strongroom/${TEST_STAGE}/${region}/storage-vending/`,
      );
      expect(fns.filter((f) => f.path !== undefined).map((f) => f.area)).toEqual(['storage']);
    }
  });

  it('only the storage function creates roles, only the tenants function deletes them; both only with the boundary', () => {
    // Act / Assess: in each region's stack, who holds each IAM action, and on what condition
    for (const [i, { region }] of synth.stacks.entries()) {
      const fns = functionsOf(i);
      const holding = (action: string) =>
        fns
          .filter((f) => f.statements.some((s) => s.Effect === 'Allow' && actions(s).includes(action)))
          .map((f) => f.area);
      expect(holding('iam:CreateRole')).toEqual(['storage']);
      expect(holding('iam:DeleteRole')).toEqual(['tenants']);
      expect(holding('iam:PutRolePolicy').sort()).toEqual(['storage', 'tenants']);
      for (const a of [
        'iam:AttachRolePolicy',
        'iam:UpdateAssumeRolePolicy',
        'iam:PutRolePermissionsBoundary',
        'iam:PassRole',
        'iam:*',
      ])
        expect(holding(a), a).toEqual([]);
      const boundaryImport = { 'Fn::ImportValue': expect.stringContaining('TenantStorageBoundary') };
      for (const f of fns.filter((x) => x.area === 'storage' || x.area === 'tenants')) {
        const writes = f.statements.filter((s) =>
          actions(s).some((a) => ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:DeleteRole'].includes(a)),
        );
        for (const s of writes) {
          expect(s.Condition).toEqual({ StringEquals: { 'iam:PermissionsBoundary': boundaryImport } });
          expect(JSON.stringify(s.Resource)).toContain(
            `:role/strongroom/${TEST_STAGE}/${region}/tenant-storage/*`,
          );
        }
        expect(f.env[ENV_VARS.tenantStorageBoundaryArn]).toEqual(boundaryImport);
      }
    }
  });

  it('the boundary is a retained managed policy of the stateful stack under a pinned logical id', () => {
    // Act / Assess
    for (const { stateful } of synth.stacks) {
      const template = Template.fromStack(stateful).toJSON();
      expect(template.Resources[STATEFUL_LOGICAL_IDS.tenantStorageBoundary]).toMatchObject({
        Type: 'AWS::IAM::ManagedPolicy',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
  });
});
