/** The STS sessions a credential vend makes: who they are for, their names, what they hand out (pure). */

/** Temporary S3 credentials as the API returns them (the secret leaves this module only in the response). */
export interface VendedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601. */
  expiration: string;
}

/** Who a vend is for, as the STS session name tells CloudTrail: the user, or the API key acting for them. */
export interface VendActor {
  kind: 'user' | 'api-key';
  /** The user id, or the API key id. */
  id: string;
}

const bareId = (id: string) => id.replace(/^[a-z]+_/, '');

/**
 * The STS session name of one vend, the only caller context AWS carries into S3 data events:
 * `<tenant>.<u|k><user or API key>.<vend>` with the ids' prefixes dropped (64 characters for
 * server-generated ids). The vend id is kept whole; anything longer is cut from the tenant and actor part.
 */
export function roleSessionName(tenantId: string, actor: VendActor, vendId: string): string {
  const safe = (text: string) => text.replace(/[^\w+=,.@-]/g, '-');
  const tail = `.${safe(bareId(vendId))}`;
  const head = safe(`${bareId(tenantId)}.${actor.kind === 'api-key' ? 'k' : 'u'}${bareId(actor.id)}`);
  return head.slice(0, Math.max(0, 64 - tail.length)) + tail;
}

/** The vend id a session name carries (its last dot-separated part), as `v_…`. */
export function vendIdOfSessionName(sessionName: string): string {
  return `v_${sessionName.slice(sessionName.lastIndexOf('.') + 1)}`;
}
