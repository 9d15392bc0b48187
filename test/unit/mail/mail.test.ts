import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { deliver } from '../../../shared/mail/deliver.js';
import { type Mailer, MailSendError } from '../../../shared/mail/mailer.js';
import { SesMailer } from '../../../shared/mail/ses-mailer.js';
import { SmtpMailer } from '../../../shared/mail/smtp-mailer.js';
import {
  accountNoticeMail,
  invitationMail,
  passwordResetMail,
  verificationMail,
} from '../../../shared/mail/templates.js';

const ses = mockClient(SESv2Client);
const LINKS = { consoleUrl: 'https://console.example.test/console/' };
const TOKEN = `m_${'0'.repeat(26)}.${'A'.repeat(43)}`;

describe('the SES adapter', () => {
  beforeEach(() => ses.reset());

  it('sends one simple message, text and HTML, from the configured sender to the one recipient', async () => {
    // Prepare
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
    const mailer = new SesMailer(new SESv2Client({}), 'Strongroom <no-reply@example.test>');

    // Act
    await mailer.send({ to: 'a@example.test', subject: 'S', text: 'T', html: '<p>H</p>' });

    // Assess: exactly one SendEmail, both bodies in UTF-8
    expect(ses.commandCalls(SendEmailCommand).map((c) => c.args[0].input)).toEqual([
      {
        FromEmailAddress: 'Strongroom <no-reply@example.test>',
        Destination: { ToAddresses: ['a@example.test'] },
        Content: {
          Simple: {
            Subject: { Data: 'S', Charset: 'UTF-8' },
            Body: { Text: { Data: 'T', Charset: 'UTF-8' }, Html: { Data: '<p>H</p>', Charset: 'UTF-8' } },
          },
        },
      },
    ]);
  });

  it('turns a refusal into MailSendError naming the SES error, never the message', async () => {
    // Prepare: SES refuses the sender
    ses.on(SendEmailCommand).rejects(
      Object.assign(new Error('Email address is not verified'), {
        name: 'MessageRejected',
      }),
    );
    const mailer = new SesMailer(new SESv2Client({}), 'no-reply@example.test');

    // Act
    const failure = mailer.send({ to: 'a@example.test', subject: 'S', text: 'secret-link', html: '' });

    // Assess: the SES error's name, and not the link
    await expect(failure).rejects.toBeInstanceOf(MailSendError);
    await expect(failure).rejects.toThrow(/MessageRejected/);
    await expect(failure).rejects.not.toThrow(/secret-link/);
  });
});

describe('a recipient refused for good, and a refusal for now', () => {
  beforeEach(() => ses.reset());
  const MESSAGE = { to: 'a@example.test', subject: 'S', text: 'T', html: '' };

  it.each([
    ['MessageRejected', true],
    ['BadRequestException', true],
    ['TooManyRequestsException', false],
    ['LimitExceededException', false],
    ['SendingPausedException', false],
    ['InternalServiceErrorException', false],
  ])('SES %s: recipientRefused is %s', async (name, refused) => {
    // Prepare
    ses.on(SendEmailCommand).rejects(Object.assign(new Error('refused'), { name }));

    // Act
    const error = await new SesMailer(new SESv2Client({}), 'no-reply@example.test')
      .send(MESSAGE)
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(MailSendError);
    expect((error as MailSendError).recipientRefused).toBe(refused);
  });

  const failing = (error: Error): Mailer => ({
    send: async () => {
      throw error;
    },
  });

  it.each([
    [
      'refused for good, the address a field',
      new MailSendError('x', { recipientRefused: true }),
      'body.email',
      400,
    ],
    [
      'refused for good, the address not the request’s',
      new MailSendError('x', { recipientRefused: true }),
      undefined,
      503,
    ],
    ['refused for now', new MailSendError('x'), 'body.email', 503],
    ['any other failure', new Error('socket hang up'), 'body.email', 503],
  ] as const)('deliver: %s → %s', async (_case, error, field, status) => {
    // Act
    const thrown = await deliver(failing(error), MESSAGE, field).catch((e: unknown) => e);

    // Assess: 400 naming the field, or 503 with Retry-After
    expect(thrown).toMatchObject({ status });
    if (status === 400)
      expect(thrown).toMatchObject({ errors: [{ path: 'body.email', message: expect.any(String) }] });
    else
      expect(Number((thrown as { headers: Record<string, string> }).headers['Retry-After'])).toBeGreaterThan(
        0,
      );
  });
});

describe('the SMTP adapter', () => {
  it('refuses a URL that is not smtp:', async () => {
    // Prepare
    const mailer = new SmtpMailer('http://127.0.0.1:25', 'no-reply@example.test');

    // Act
    const sending = mailer.send({ to: 'a@b.c', subject: 's', text: 't', html: 'h' });

    // Assess
    await expect(sending).rejects.toBeInstanceOf(MailSendError);
  });
});

describe('mail templates', () => {
  it('put the token only in the console link, in the fragment, in text and HTML', () => {
    // Act / Assess: the verification and the reset mail each carry the token once in the text, in the link's fragment, and the same link in the HTML
    for (const mail of [
      verificationMail(LINKS, 'a@example.test', TOKEN, 24),
      passwordResetMail(LINKS, 'a@example.test', TOKEN, 30),
    ]) {
      const link = /https:\/\/console\.example\.test\/console\/#\/(verify-email|reset-password)\/(\S+)/.exec(
        mail.text,
      );
      expect(link?.[2]).toBe(TOKEN);
      expect(mail.text.split(TOKEN)).toHaveLength(2);
      expect(mail.html).toContain(`href="${link![0]}"`);
    }
  });

  it('escape what others typed (names, tenant names, user agents) in HTML', () => {
    // Act: an invitation and a notice with markup where others choose the text
    const invitation = invitationMail(LINKS, 'b@example.test', {
      tenantName: '<script>alert(1)</script>',
      role: 'viewer',
      inviterName: 'Eve "the" <b>',
      inviterEmail: 'eve@example.test',
      expiresAt: new Date(0),
    });

    // Assess: the markup escaped; the notice names the IP and holds no token
    expect(invitation.html).not.toContain('<script>');
    expect(invitation.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(invitation.html).not.toContain('<b>');
    const notice = accountNoticeMail(LINKS, 'a@example.test', 'password-changed', {
      at: new Date(0),
      ip: '203.0.113.9',
      userAgent: '<img src=x onerror=alert(1)>',
    });
    expect(notice.html).not.toContain('<img');
    expect(notice.text).toContain('203.0.113.9');
    expect(notice.text).not.toMatch(/m_[0-9a-z]{26}\./);
  });
});
