/** A mail as MailDev's REST API returns it (the fields Strongroom reads). */
export interface InboxMail {
  id: string;
  subject: string;
  text: string;
  html: string;
  to: { address: string }[];
  from: { address: string; name: string }[];
  time: string;
}

/** Every mail in the inbox to `to` (case-insensitive), oldest first. */
export async function mailsTo(inboxApiUrl: string, to: string): Promise<InboxMail[]> {
  const res = await fetch(`${inboxApiUrl}/email`);
  if (!res.ok) throw new Error(`the mail inbox answered ${res.status}`);
  const all = (await res.json()) as InboxMail[];
  const want = to.toLowerCase();
  return all.filter((m) => m.to.some((r) => r.address.toLowerCase() === want));
}

/**
 * Waits for a mail to `to` whose subject matches, and removes it from the inbox (so the next wait sees
 * only newer mails).
 */
export async function takeMail(
  inboxApiUrl: string,
  to: string,
  subject: RegExp,
  timeoutMs = 10_000,
): Promise<InboxMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await mailsTo(inboxApiUrl, to)).find((m) => subject.test(m.subject));
    if (found) {
      await fetch(`${inboxApiUrl}/email/${encodeURIComponent(found.id)}`, { method: 'DELETE' });
      return found;
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${subject} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The link in a mail's text that opens `screen` (`/verify-email`, `/reset-password`), and its token. */
export function linkIn(mail: InboxMail, screen: string): { url: string; token: string } {
  const match = new RegExp(`(\\S+#${screen}/(\\S+))`).exec(mail.text);
  if (!match) throw new Error(`no ${screen} link in the mail "${mail.subject}"`);
  return { url: match[1]!, token: match[2]! };
}
