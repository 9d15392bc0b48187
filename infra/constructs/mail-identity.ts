import * as iam from 'aws-cdk-lib/aws-iam';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';

/** Where Strongroom sends mail from and where its links point (CDK context, infra/strongroom.ts). */
export interface MailSettings {
  /** The domain SES sends from (an SES domain identity; its DKIM records go into the domain's DNS). */
  domain: string;
  /** The console's base URL, `https://…/console/`: the links in mails point here. */
  consoleUrl: string;
}

/**
 * The stage's SES domain identity (Easy DKIM) and the one sender address on it. Functions that mail get
 * `ses:SendEmail` on this identity only, and only from that address (grantSendMail).
 */
export class MailIdentity extends Construct {
  readonly identity: ses.EmailIdentity;
  /** `Strongroom <no-reply@domain>`, the MAIL_FROM of the functions. */
  readonly from: string;
  readonly fromAddress: string;
  readonly consoleUrl: string;

  constructor(scope: Construct, id: string, settings: MailSettings) {
    super(scope, id);
    this.identity = new ses.EmailIdentity(this, 'Domain', {
      identity: ses.Identity.domain(settings.domain),
    });
    this.fromAddress = `no-reply@${settings.domain}`;
    this.from = `Strongroom <${this.fromAddress}>`;
    this.consoleUrl = settings.consoleUrl;
  }

  /** `ses:SendEmail` on this identity, from its one sender address. */
  grantSend(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SendMail',
        actions: ['ses:SendEmail'],
        resources: [this.identity.emailIdentityArn],
        conditions: { StringEquals: { 'ses:FromAddress': this.fromAddress } },
      }),
    );
  }
}
