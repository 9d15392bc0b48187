import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, CONSOLE_SECURITY_HEADERS } from '../../infra/console/site.js';
import {
  API_PATH_PATTERNS,
  CONSOLE_VIEWER_REQUEST_CODE,
  ConsoleDistribution,
  responseHeadersPolicyFor,
} from '../../infra/constructs/console-distribution.js';
import { consoleFileServer } from '../../infra/local/console-files.js';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/client-ip.js';
import { ROUTES } from '../../shared/schemas/routes.js';
import { simulate } from '../support/iam-simulator.js';
import { areaIdentityPolicies, functionPrincipal } from './role-policies.js';
import { type Synthesised, synthStrongroom, TEST_STAGE } from './synth.js';

type Resource = {
  Type: string;
  Properties: Record<string, any>;
  DeletionPolicy?: string;
};

/** CloudFront's managed policies, by their documented ids. */
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

interface RegionView {
  region: string;
  resources: Record<string, Resource>;
  stateful: Record<string, Resource>;
  ids: { bucket: string; logBucket: string; distribution: string; headers: string; fn: string };
}

let synth: Synthesised;
let regions: RegionView[];
beforeAll(() => {
  synth = synthStrongroom();
  regions = synth.stacks.map((s) => {
    const id = (c: { node: { defaultChild?: unknown } }) =>
      s.stateless.resolve(s.stateless.getLogicalId(c.node.defaultChild as never)) as string;
    const site = s.stateless.console;
    return {
      region: s.region,
      resources: Template.fromStack(s.stateless).toJSON().Resources,
      stateful: Template.fromStack(s.stateful).toJSON().Resources,
      ids: {
        bucket: id(site.bucket),
        logBucket: id(site.logBucket),
        distribution: id(site.distribution),
        headers: id(site.responseHeadersPolicy),
        fn: id(site.viewerRequestFunction),
      },
    };
  });
});
afterAll(() => synth?.cleanup());

const ofType = (r: RegionView, type: string) =>
  Object.entries(r.resources).filter(([, v]) => v.Type === type);
const configOf = (r: RegionView) => r.resources[r.ids.distribution]!.Properties.DistributionConfig;

describe('the console distribution', () => {
  it('lives in the stateless stack of every region, one distribution each; the stateful stack has none', () => {
    // Act / Assess: in each region
    for (const r of regions) {
      expect(ofType(r, 'AWS::CloudFront::Distribution').map(([id]) => id)).toEqual([r.ids.distribution]);
      expect(Object.values(r.stateful).filter((v) => v.Type.startsWith('AWS::CloudFront::'))).toEqual([]);
    }
  });

  it('keeps the bucket private: all public access blocked, no website, no ACLs, S3-managed encryption, logged', () => {
    // Act / Assess: in each region, the console bucket and the log bucket
    for (const r of regions) {
      const bucket = r.resources[r.ids.bucket]!.Properties;
      expect(bucket).toEqual({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        LoggingConfiguration: {
          DestinationBucketName: { Ref: r.ids.logBucket },
          LogFilePrefix: 'console-bucket/',
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        // BucketDeployment marks the prefixes it owns.
        Tags: expect.any(Array),
      });
      expect(bucket.WebsiteConfiguration).toBeUndefined();
      const log = r.resources[r.ids.logBucket]!.Properties;
      expect(log.PublicAccessBlockConfiguration).toEqual(bucket.PublicAccessBlockConfiguration);
      expect(log.WebsiteConfiguration).toBeUndefined();
      // CloudFront's standard logs are delivered with ACLs: object writers own their objects here.
      expect(log.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'ObjectWriter' }] });
    }
  });

  it('reads the bucket through Origin Access Control (SigV4, always signed), never a legacy OAI', () => {
    // Act / Assess: in each region, the OAC, the bucket's origin and the API's
    for (const r of regions) {
      const oacs = ofType(r, 'AWS::CloudFront::OriginAccessControl');
      expect(oacs).toHaveLength(1);
      const [oacId, oac] = oacs[0]!;
      expect(oac.Properties.OriginAccessControlConfig).toMatchObject({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      });
      expect(ofType(r, 'AWS::CloudFront::CloudFrontOriginAccessIdentity')).toEqual([]);
      const [s3Origin, apiOrigin, ...more] = configOf(r).Origins;
      expect(more).toEqual([]);
      expect(s3Origin).toEqual({
        DomainName: { 'Fn::GetAtt': [r.ids.bucket, 'RegionalDomainName'] },
        Id: expect.any(String),
        OriginAccessControlId: { 'Fn::GetAtt': [oacId, 'Id'] },
        S3OriginConfig: { OriginAccessIdentity: '' },
      });
      // The API: its regional execute-api host, the stage as the origin path, TLS 1.2 only.
      expect(apiOrigin.CustomOriginConfig).toEqual({
        OriginProtocolPolicy: 'https-only',
        OriginSSLProtocols: ['TLSv1.2'],
      });
      const apiUrl = JSON.stringify(apiOrigin.DomainName);
      expect(apiUrl).toContain(`.execute-api.${r.region}.`);
      expect(JSON.stringify(apiOrigin.OriginPath)).toContain(`ApiDeploymentStage${TEST_STAGE}`);
      expect(apiOrigin.OriginAccessControlId).toBeUndefined();
      expect(apiOrigin.OriginCustomHeaders).toHaveLength(1);
    }
  });

  it('sends the API the origin secret as a CloudFormation dynamic reference to the secret, never a value', () => {
    // Act / Assess: in each region, the secret, the API origin's header and the functions' variable
    for (const r of regions) {
      const secrets = ofType(r, 'AWS::SecretsManager::Secret');
      expect(secrets).toHaveLength(1);
      const [secretId, secret] = secrets[0]!;
      // Generated by Secrets Manager: the template holds how to make it, not what it is.
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.Properties.GenerateSecretString).toMatchObject({
        PasswordLength: 64,
        ExcludePunctuation: true,
        IncludeSpace: false,
      });
      const apiOrigin = configOf(r).Origins[1];
      expect(apiOrigin.OriginCustomHeaders).toEqual([
        {
          HeaderName: ORIGIN_VERIFY_HEADER,
          HeaderValue: {
            'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']],
          },
        },
      ]);
      // The functions get the same reference, resolved at deployment; they need no permission to read it.
      const apiFunctions = ofType(r, 'AWS::Lambda::Function').filter(([id]) =>
        /^[A-Z][a-z]+Function[0-9A-F]{8}$/.test(id),
      );
      expect(apiFunctions.length).toBeGreaterThan(3);
      for (const [, fn] of apiFunctions)
        expect(fn.Properties.Environment.Variables.ORIGIN_VERIFY_SECRET).toEqual(
          apiOrigin.OriginCustomHeaders[0].HeaderValue,
        );
    }
  });

  it('lets no role of the stack read the origin secret: CloudFormation resolves it at deployment', async () => {
    // Prepare: the first region's secret, under a concrete ARN
    const stack = synth.stacks[0]!.stateless;
    const r = regions[0]!;
    const [secretId] = ofType(r, 'AWS::SecretsManager::Secret')[0]!;
    const secretArn = `arn:aws:secretsmanager:${r.region}:123456789012:secret:OriginVerifySecret-AbCdEf`;
    const policies = ofType(r, 'AWS::IAM::Policy');

    // Act / Assess
    // No statement names it (so the simulator below, which cannot resolve references, misses nothing) ...
    for (const [, policy] of policies) expect(JSON.stringify(policy.Properties)).not.toContain(secretId);
    // ... and none allows it by wildcard either.
    const areas = Object.keys(stack.functions) as (keyof typeof stack.functions)[];
    expect(areas.length).toBeGreaterThan(3);
    for (const area of areas) {
      for (const action of ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']) {
        const decision = await simulate({
          principal: functionPrincipal(area),
          action,
          resource: secretArn,
          identityPolicies: areaIdentityPolicies(stack, area),
        });
        expect({ area, action, decision }).toEqual({ area, action, decision: 'ImplicitlyDenied' });
      }
    }
  });

  it('serves the console by default: HTTPS, GET/HEAD, cached, the security headers, the path function', () => {
    // Act / Assess: in each region
    for (const r of regions) {
      const config = configOf(r);
      const s3OriginId = config.Origins[0].Id;
      expect(config.DefaultCacheBehavior).toEqual({
        AllowedMethods: ['GET', 'HEAD'],
        CachePolicyId: CACHING_OPTIMIZED,
        Compress: true,
        FunctionAssociations: [
          { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [r.ids.fn, 'FunctionARN'] } },
        ],
        ResponseHeadersPolicyId: { Ref: r.ids.headers },
        TargetOriginId: s3OriginId,
        ViewerProtocolPolicy: 'redirect-to-https',
      });
      // No distribution-wide error pages: they would turn the API's 403/404 problem answers into the page.
      expect(config.CustomErrorResponses).toBeUndefined();
      expect(config.DefaultRootObject).toBeUndefined();
      // Standard logs without cookies: the session cookie is a bearer credential.
      expect(config.Logging).toEqual({
        Bucket: { 'Fn::GetAtt': [r.ids.logBucket, 'RegionalDomainName'] },
        IncludeCookies: false,
        Prefix: 'cloudfront/',
      });
    }
  });

  it('sends the API paths to API Gateway uncached, with every viewer header, cookie and query but Host', () => {
    // Act / Assess: in each region
    for (const r of regions) {
      const config = configOf(r);
      const apiOriginId = config.Origins[1].Id;
      expect(config.CacheBehaviors).toEqual(
        API_PATH_PATTERNS.map((pattern) => ({
          AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
          CachePolicyId: CACHING_DISABLED,
          Compress: false,
          OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
          PathPattern: pattern,
          TargetOriginId: apiOriginId,
          // A redirected POST would lose its body: plain HTTP is refused instead.
          ViewerProtocolPolicy: 'https-only',
        })),
      );
    }
  });

  it('routes every API route to the API and no console path away from the bucket', () => {
    // Prepare
    // CloudFront path patterns: `*` matches any characters, `/` included; otherwise exact and case-sensitive.
    const matches = (pattern: string, path: string) =>
      new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(path);
    const toApi = (path: string) => API_PATH_PATTERNS.some((p) => matches(p, path));
    const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x_1');

    // Act
    const missed = ROUTES.filter((route) => !toApi(concrete(route.path))).map((r) => `${r.method} ${r.path}`);

    // Assess: every route reaches the API; no console path does
    expect(missed).toEqual([]);
    for (const path of ['/console/', '/console/index.html', '/console/assets/index-abc.js', '/console', '/'])
      expect(toApi(path), path).toBe(false);
  });

  it('lets only CloudFront read the bucket, only for this distribution, only objects, only over TLS', async () => {
    // Act / Assess: in each region, the one policy, made concrete
    for (const r of regions) {
      const policies = ofType(r, 'AWS::S3::BucketPolicy').filter(
        ([, v]) => JSON.stringify(v.Properties.Bucket) === JSON.stringify({ Ref: r.ids.bucket }),
      );
      expect(policies).toHaveLength(1);
      const document = policies[0]![1].Properties.PolicyDocument;
      const bucketArn = `arn:aws:s3:::strongroom-console-${r.region}`;
      const account = '123456789012';
      const distributionArn = `arn:aws:cloudfront::${account}:distribution/E1CONSOLE${r.region.length}`;
      // The template's intrinsics as concrete values; anything else is a test failure, not a silent pass.
      const resolve = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(resolve);
        if (value === null || typeof value !== 'object') return value;
        const v = value as Record<string, any>;
        if (v.Ref === 'AWS::Partition') return 'aws';
        if (v.Ref === 'AWS::AccountId') return account;
        if (v.Ref === r.ids.distribution) return distributionArn.split('/')[1];
        if (v['Fn::GetAtt']?.[0] === r.ids.bucket && v['Fn::GetAtt'][1] === 'Arn') return bucketArn;
        if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(resolve).join(v['Fn::Join'][0]);
        const keys = Object.keys(v);
        if (keys.some((k) => k.startsWith('Fn::') || k === 'Ref'))
          throw new Error(`unresolved ${JSON.stringify(v)}`);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
      };
      const policy = resolve(document) as { Statement: unknown[] };
      // Exactly two statements: TLS only, and CloudFront's reads on behalf of this distribution.
      expect(policy.Statement).toEqual([
        {
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Resource: [bucketArn, `${bucketArn}/*`],
        },
        {
          Action: 's3:GetObject',
          Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Resource: `${bucketArn}/*`,
        },
      ]);

      // Act / Assess: the simulator, on CloudFront's reads and everything else
      const page = `${bucketArn}/console/index.html`;
      const viaCloudFront = (action: string, resource: string, context: Record<string, string> = {}) =>
        simulate({
          principal: 'cloudfront.amazonaws.com',
          action,
          resource,
          resourceAccount: account,
          context: { 'aws:SecureTransport': 'true', ...context },
          identityPolicies: [],
          resourcePolicy: policy,
        });
      expect(await viaCloudFront('s3:GetObject', page, { 'aws:SourceArn': distributionArn })).toBe('Allowed');
      // Another distribution (any account's): CloudFront signs for it, the policy does not grant it.
      expect(
        await viaCloudFront('s3:GetObject', page, {
          'aws:SourceArn': 'arn:aws:cloudfront::999999999999:distribution/EOTHER',
        }),
      ).toBe('ImplicitlyDenied');
      expect(await viaCloudFront('s3:GetObject', page)).toBe('ImplicitlyDenied');
      expect(
        await viaCloudFront('s3:GetObject', page, {
          'aws:SourceArn': distributionArn,
          'aws:SecureTransport': 'false',
        }),
      ).toBe('ExplicitlyDenied');
      for (const action of ['s3:PutObject', 's3:DeleteObject', 's3:GetObjectAcl'])
        expect(await viaCloudFront(action, page, { 'aws:SourceArn': distributionArn }), action).toBe(
          'ImplicitlyDenied',
        );
      expect(await viaCloudFront('s3:ListBucket', bucketArn, { 'aws:SourceArn': distributionArn })).toBe(
        'ImplicitlyDenied',
      );
      // Someone in another account whose own policies allow everything still gets nothing from this bucket.
      expect(
        await simulate({
          principal: 'arn:aws:iam::999999999999:role/outsider',
          action: 's3:GetObject',
          resource: page,
          resourceAccount: account,
          context: { 'aws:SecureTransport': 'true' },
          identityPolicies: [
            { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] },
          ],
          resourcePolicy: policy,
        }),
      ).toBe('ImplicitlyDenied');
    }
  });

  it('sends, in its response-headers policy, exactly the headers local mode sends', async () => {
    // Prepare: what local mode actually answers for the console page
    const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>t</title>');
    const serve = consoleFileServer(dist);
    const server: Server = createServer((req, res) => {
      void serve(req, res, new URL(req.url ?? '/', 'http://x').pathname);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    let local: Headers;
    try {
      const { port } = server.address() as AddressInfo;

      // Act
      const answer = await fetch(`http://127.0.0.1:${port}/console/`);

      // Assess
      expect(answer.status).toBe(200);
      local = answer.headers;
    } finally {
      server.close();
      rmSync(dist, { recursive: true, force: true });
    }

    // Act / Assess: in each region, the policy rendered back into headers equals what local mode sent
    for (const r of regions) {
      const config = r.resources[r.ids.headers]!.Properties.ResponseHeadersPolicyConfig;
      const security = config.SecurityHeadersConfig;
      // The policy rendered back into headers, as CloudFront will send them (every one overriding the origin's).
      const hsts = security.StrictTransportSecurity;
      const sent: Record<string, string> = {
        'Content-Security-Policy': security.ContentSecurityPolicy.ContentSecurityPolicy,
        'Strict-Transport-Security': [
          `max-age=${hsts.AccessControlMaxAgeSec}`,
          ...(hsts.IncludeSubdomains ? ['includeSubDomains'] : []),
          ...(hsts.Preload ? ['preload'] : []),
        ].join('; '),
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': security.FrameOptions.FrameOption,
        'Referrer-Policy': security.ReferrerPolicy.ReferrerPolicy,
      };
      for (const h of config.CustomHeadersConfig.Items) sent[h.Header] = h.Value;
      const overrides = [
        ...Object.values(security).map((s) => (s as { Override: boolean }).Override),
        ...config.CustomHeadersConfig.Items.map((h: { Override: boolean }) => h.Override),
      ];
      expect(overrides.every((o) => o === true)).toBe(true);
      expect(security.XSSProtection).toBeUndefined();
      expect(config.CorsConfig).toBeUndefined();

      expect(sent).toEqual(CONSOLE_SECURITY_HEADERS);
      for (const [name, value] of Object.entries(sent)) expect(local!.get(name), name).toBe(value);
      expect(sent['Content-Security-Policy']).toBe(CONSOLE_CSP);
      expect(CONSOLE_CSP).toContain("default-src 'self'");
      expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
      expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    }
  });

  it('refuses to render headers CloudFront would send differently, rather than drifting from local mode', () => {
    // Prepare
    const base = { ...CONSOLE_SECURITY_HEADERS };

    // Act / Assess
    expect(() =>
      responseHeadersPolicyFor({ ...base, 'Strict-Transport-Security': 'max-age=1; foo' }),
    ).toThrow(/Strict-Transport-Security/);
    expect(() => responseHeadersPolicyFor({ ...base, 'X-Frame-Options': 'ALLOW-FROM x' })).toThrow(
      /X-Frame-Options/,
    );
    expect(() => responseHeadersPolicyFor({ ...base, 'Referrer-Policy': 'nope' })).toThrow(/Referrer-Policy/);
    expect(() => responseHeadersPolicyFor({ ...base, 'X-Content-Type-Options': 'sniff' })).toThrow(
      /X-Content-Type-Options/,
    );
  });

  it('runs a viewer-request function that maps /console/ to the page and keeps everything else off the bucket', () => {
    // Act / Assess: the function's code and runtime, in each region
    for (const r of regions) {
      const fn = r.resources[r.ids.fn]!.Properties;
      expect(fn.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
      expect(fn.FunctionCode).toBe(CONSOLE_VIEWER_REQUEST_CODE);
    }

    // Prepare: the same code, run as CloudFront would
    const handler = runInNewContext(`${CONSOLE_VIEWER_REQUEST_CODE}; handler`) as (event: unknown) => any;
    const run = (uri: string) =>
      handler({ request: { method: 'GET', uri, querystring: {}, headers: {}, cookies: {} } });

    // Act / Assess: console paths to the bucket, the bare ones redirected, anything else 404
    expect(run('/console/').uri).toBe('/console/index.html');
    expect(run('/console/assets/index-abc.js').uri).toBe('/console/assets/index-abc.js');
    expect(run('/console/favicon.svg').uri).toBe('/console/favicon.svg');
    for (const uri of ['/', '/console'])
      expect(run(uri), uri).toEqual({
        statusCode: 308,
        statusDescription: 'Permanent Redirect',
        headers: { location: { value: '/console/' } },
      });
    for (const uri of ['/index.html', '/consoles/', '/console-x', '/.env', '/v2/anything'])
      expect(run(uri), uri).toEqual({ statusCode: 404, statusDescription: 'Not Found' });
  });

  it('deploys the built console under console/: hashed assets immutable, pages revalidated, assets first', () => {
    // Act / Assess: in each region, the two deployments
    for (const r of regions) {
      const deployments = ofType(r, 'Custom::CDKBucketDeployment').map(([id, v]) => ({ id, ...v }));
      expect(deployments).toHaveLength(2);
      const assets = deployments.find((d) => d.id.includes('DeployAssets'))!;
      const pages = deployments.find((d) => d.id.includes('DeployPages'))!;
      const common = {
        DestinationBucketName: { Ref: r.ids.bucket },
        DestinationBucketKeyPrefix: 'console/',
        Prune: true,
      };
      expect(assets.Properties).toMatchObject({
        ...common,
        Exclude: ['*'],
        Include: ['assets/*'],
        SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' },
      });
      expect(pages.Properties).toMatchObject({
        ...common,
        Exclude: ['assets/*'],
        SystemMetadata: { 'cache-control': 'no-cache' },
      });
      expect(pages.Properties.Include).toBeUndefined();
      expect(JSON.stringify(pages.Properties.SourceObjectKeys)).toBe(
        JSON.stringify(assets.Properties.SourceObjectKeys),
      );
      expect((r.resources[pages.id] as { DependsOn?: string[] }).DependsOn).toContain(assets.id);
    }
  });

  it('lets CDK’s deployment function touch only the asset bucket (read) and the console bucket', () => {
    // Act / Assess: in each region
    for (const r of regions) {
      const functions = ofType(r, 'AWS::Lambda::Function').filter(([id]) =>
        id.startsWith('CustomCDKBucketDeployment'),
      );
      expect(functions).toHaveLength(1);
      const [, fn] = functions[0]!;
      expect(fn.Properties.LoggingConfig).toEqual({
        LogGroup: { Ref: expect.stringMatching(/^ConsoleDeployLogs/) },
      });
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const statements = ofType(r, 'AWS::IAM::Policy')
        .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
        .flatMap(
          ([, p]) => p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[],
        );
      for (const s of statements) {
        const resources = JSON.stringify(s.Resource);
        const actions = [s.Action].flat() as string[];
        const onAssets = resources.includes(`cdk-hnb659fds-assets-`) && resources.includes(r.region);
        const onConsole = resources.includes(`"${r.ids.bucket}"`);
        expect(onAssets !== onConsole, resources).toBe(true);
        if (onAssets)
          expect(
            actions.every((a) => /^s3:(GetObject\*|GetBucket\*|List\*)$/.test(a)),
            actions.join(),
          ).toBe(true);
        else
          expect(
            actions.every((a) => a.startsWith('s3:')),
            actions.join(),
          ).toBe(true);
      }
    }
  });
});

describe('the console asset', () => {
  it('is built by Vite during synthesis, from the sources, without console/dist', () => {
    // Act: a stack with only the console, synthesised with bundling on (as `cdk synth` does).
    const outdir = mkdtempSync(join(tmpdir(), 'console-synth-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'ConsoleOnly', { env: { region: 'eu-west-1' } });
      const api = new apigw.RestApi(stack, 'Api', { deployOptions: { stageName: 'x' } });
      api.root.addMethod('GET', new apigw.MockIntegration());
      const originVerifySecret = new secretsmanager.Secret(stack, 'OriginSecret');
      new ConsoleDistribution(stack, 'Console', { api, stage: 'x', originVerifySecret });
      const assembly = app.synth();
      const manifest = JSON.parse(
        readFileSync(join(assembly.directory, 'ConsoleOnly.assets.json'), 'utf8'),
      ) as { files: Record<string, { source: { path: string; packaging?: string } }> };

      // Assess: one built page, its one script among the assets, CSP-clean
      const built = Object.values(manifest.files)
        .map((f) => join(assembly.directory, f.source.path))
        .filter((p) => existsSync(join(p, 'index.html')));
      expect(built).toHaveLength(1);
      const page = readFileSync(join(built[0]!, 'index.html'), 'utf8');
      const scripts = [...page.matchAll(/src="(\/console\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
      expect(scripts).toHaveLength(1);
      expect(readdirSync(join(built[0]!, 'assets'))).toContain(scripts[0]!.split('/').pop());
      // CSP-clean: no inline script or style in the page.
      expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(page).not.toMatch(/<style|style="/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('refuses a prebuilt directory that holds no console', () => {
    // Prepare: an empty prebuilt directory
    const empty = mkdtempSync(join(tmpdir(), 'console-empty-'));
    mkdirSync(join(empty, 'assets'));
    try {
      const app = new App();
      const stack = new Stack(app, 'ConsoleOnly');
      const api = new apigw.RestApi(stack, 'Api');
      api.root.addMethod('GET', new apigw.MockIntegration());
      const originVerifySecret = new secretsmanager.Secret(stack, 'OriginSecret');

      // Act / Assess
      expect(
        () =>
          new ConsoleDistribution(stack, 'Console', {
            api,
            stage: 'x',
            consoleDist: empty,
            originVerifySecret,
          }),
      ).toThrow(/holds no built console.*npm run console:build/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
