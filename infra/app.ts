import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { addStrongroomStacks, configFromContext } from './strongroom.js';

/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy --all`. Configuration comes from CDK context
 * (cdk.json, or `-c strongroom:stage=prod -c strongroom:regions=eu-central-1,eu-west-1
 * -c strongroom:preProvisionedTenants=t_…@eu-west-1`); the account from the CLI's credentials
 * (CDK_DEFAULT_ACCOUNT), read by `configFromContext` and nowhere else.
 */
const app = new App();
addStrongroomStacks(app, configFromContext(app));
// Every synth runs cdk-nag: an unacknowledged AWS Solutions finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
