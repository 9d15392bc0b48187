import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV_VARS } from '../../shared/aws/config.js';
import type { StrongroomFunction } from './strongroom-function.js';

/**
 * Who may write the storage role's revocation policy. The storage area creates the role (and binds it
 * here); other areas that reduce someone's access — membership changes in `tenants` — ask for the same
 * right with `grantRevoke`, in whatever order the areas are built.
 */
export class StorageRevocationAccess {
  #roleArn: string | undefined;
  readonly #grantees: StrongroomFunction[] = [];

  /** Lets `fn` revoke vended storage credentials (the revocation list item and the role's inline policy). */
  grantRevoke(fn: StrongroomFunction): void {
    this.#grantees.push(fn);
    if (this.#roleArn) this.#apply(fn, this.#roleArn);
  }

  /** Called once by the storage area with the role it created. */
  bind(storageRoleArn: string): void {
    if (this.#roleArn) throw new Error('the storage role is bound already');
    this.#roleArn = storageRoleArn;
    for (const fn of this.#grantees) this.#apply(fn, storageRoleArn);
  }

  #apply(fn: StrongroomFunction, roleArn: string): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StorageRevocations',
        actions: ['iam:GetRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy'],
        resources: [roleArn],
      }),
    );
    fn.function.addEnvironment(ENV_VARS.storageRoleArn, roleArn);
  }
}
