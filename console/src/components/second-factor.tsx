import { useState } from 'preact/hooks';
import { passkeysAvailable, stepUpWithPasskey } from '../app/passkeys';
import { CodeField, Field, text } from './form';

/** How a fresh-MFA action is confirmed: an authenticator code, a recovery code, or a passkey. */
export type FactorKind = 'code' | 'recovery' | 'passkey';

interface FactorUser {
  mfaEnabled: boolean;
  passkeyCount: number;
}

const SWITCH_LABEL: Record<FactorKind, string> = {
  code: 'Use an authenticator code instead',
  recovery: 'Use a recovery code instead',
  passkey: 'Use a passkey instead',
};

/** The factors this user can confirm with in this browser, the default first (a code when TOTP is on). */
function factorKinds(user: FactorUser): FactorKind[] {
  const kinds: FactorKind[] = [];
  if (user.mfaEnabled) kinds.push('code');
  if (user.passkeyCount > 0 && passkeysAvailable()) kinds.push('passkey');
  if (user.mfaEnabled) kinds.push('recovery');
  return kinds;
}

/**
 * The second factor a form asks for, as the API decides it: TOTP on or any passkey means one is needed
 * (`required`); `kind` is the one chosen (undefined when the account has a factor this browser cannot use:
 * a passkey-only account on an IP address).
 */
export function useSecondFactor(user: FactorUser) {
  const kinds = factorKinds(user);
  const [chosen, choose] = useState<FactorKind>();
  const kind = chosen && kinds.includes(chosen) ? chosen : kinds[0];
  return { kind, kinds, choose, required: user.mfaEnabled || user.passkeyCount > 0 };
}

/** The field of the chosen factor; none for a passkey (the browser asks when the form is sent). */
export function FactorField({ kind, codeName = 'mfaCode' }: { kind?: FactorKind; codeName?: string }) {
  if (kind === 'code') return <CodeField name={codeName} />;
  if (kind === 'recovery') return <Field name="recoveryCode" label="Recovery code" required />;
  if (kind === 'passkey') {
    return <p class="hint">When you send this, your browser asks for your passkey to confirm it is you.</p>;
  }
  return null;
}

/** Buttons to confirm another way (outside the form, which is re-created for the new factor). */
export function FactorSwitch({
  kind,
  kinds,
  choose,
}: {
  kind?: FactorKind;
  kinds: FactorKind[];
  choose: (kind: FactorKind) => void;
}) {
  return (
    <>
      {kinds
        .filter((other) => other !== kind)
        .map((other) => (
          <button key={other} type="button" class="link" onClick={() => choose(other)}>
            {SWITCH_LABEL[other]}
          </button>
        ))}
    </>
  );
}

/** Shown instead of a form when the account's only factor is a passkey this browser cannot use here. */
export function NoUsableFactor() {
  return (
    <p>
      Confirming this needs your passkey, and this browser cannot use passkeys here (they need a browser with
      WebAuthn, on a site address rather than an IP address).
    </p>
  );
}

/** The chosen factor as the API takes it; for a passkey, a fresh step-up (the browser's prompt). */
export async function factorBody(
  kind: FactorKind | undefined,
  values: FormData,
  codeName: 'mfaCode' | 'code' = 'mfaCode',
): Promise<{ mfaCode?: string; code?: string; recoveryCode?: string; stepUpToken?: string }> {
  switch (kind) {
    case 'code':
      return { [codeName]: text(values, codeName) ?? '' };
    case 'recovery':
      return { recoveryCode: text(values, 'recoveryCode') ?? '' };
    case 'passkey':
      return { stepUpToken: await stepUpWithPasskey() };
    default:
      return {};
  }
}
