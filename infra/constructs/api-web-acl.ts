import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '../../shared/http/client-ip.js';

export interface ApiWebAclProps {
  stage: string;
  /** The secret the console distribution sends in x-strongroom-origin-verify (shared/http/client-ip.ts). */
  originVerifySecret: secretsmanager.ISecret;
  /** Requests per client IP per 5 minutes before WAF blocks it. @default 1000 */
  requestsPerIpPer5Minutes?: number;
  /**
   * Requests per CloudFront edge address per 5 minutes, for requests that came through the console
   * distribution: many viewers share an edge, so this is a backstop against a flood through one edge, not a
   * per-viewer limit. @default 20 times requestsPerIpPer5Minutes
   */
  requestsPerEdgePer5Minutes?: number;
}

/**
 * The regional web ACL in front of the API: per-IP rate limits (per edge for the console distribution's
 * requests) and AWS's common and known-bad-inputs rule sets. Associate it with the API's stage (`arn`).
 */
export class ApiWebAcl extends Construct {
  readonly arn: string;

  constructor(scope: Construct, id: string, props: ApiWebAclProps) {
    super(scope, id);
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: true,
    });
    const managed = (
      name: string,
      priority: number,
      ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[],
    ): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ...(ruleActionOverrides ? { ruleActionOverrides } : {}),
        },
      },
      visibilityConfig: visibility(name),
    });
    const perIp = props.requestsPerIpPer5Minutes ?? 1000;
    // Exactly the origin secret in its header: CloudFront replaces a viewer's header of that name, so only
    // the distribution's requests match. The value is a dynamic reference, resolved at deployment.
    const fromDistribution: wafv2.CfnWebACL.StatementProperty = {
      byteMatchStatement: {
        fieldToMatch: { singleHeader: { Name: ORIGIN_VERIFY_HEADER } },
        positionalConstraint: 'EXACTLY',
        searchString: props.originVerifySecret.secretValue.unsafeUnwrap(),
        textTransformations: [{ priority: 0, type: 'NONE' }],
      },
    };
    // 'Default': the ACL's logical ID is this construct's id, as when the stack made it itself.
    const webAcl = new wafv2.CfnWebACL(this, 'Default', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`strongroom-${props.stage}-api`),
      rules: [
        // Requests through the console distribution come from CloudFront's edges, each shared by many
        // viewers: the per-IP rule counts every other request, and those get a per-edge backstop. Per viewer
        // they are held by the API's own per-client limits, which read CloudFront-Viewer-Address when the
        // origin secret is there (shared/http/client-ip.ts); WAF cannot tell a viewer's header from a forged
        // one without the secret, and CloudFront-Viewer-Address carries a port, which WAF's forwarded-IP
        // keys do not take.
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: perIp,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: { notStatement: { statement: fromDistribution } },
            },
          },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        {
          name: 'RateLimitPerCloudFrontEdge',
          priority: 3,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: props.requestsPerEdgePer5Minutes ?? perIp * 20,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: fromDistribution,
            },
          },
          visibilityConfig: visibility('RateLimitPerCloudFrontEdge'),
        },
        // The common rule set blocks bodies over 8 KB; the API accepts up to 64 KiB and the functions
        // answer 413 above that (shared/http/api.ts MAX_BODY_BYTES), so that one rule only counts.
        managed('AWSManagedRulesCommonRuleSet', 1, [
          { name: 'SizeRestrictions_BODY', actionToUse: { count: {} } },
        ]),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });
    this.arn = webAcl.attrArn;
  }
}
