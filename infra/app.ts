import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addStrongroomStacks, contextList } from './strongroom.js';

/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy --all`. Configuration comes from CDK context
 * (cdk.json, or `-c strongroom:stage=prod -c strongroom:regions=eu-central-1,eu-west-1`); the account from
 * the CLI's credentials (CDK_DEFAULT_ACCOUNT), read here and nowhere else.
 */
const app = new App();
addStrongroomStacks(app, {
  stage: String(app.node.tryGetContext('strongroom:stage') ?? 'dev'),
  regions: contextList(app.node.tryGetContext('strongroom:regions')),
  account: process.env.CDK_DEFAULT_ACCOUNT,
});
// Every synth runs cdk-nag: an unacknowledged AWS Solutions finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
