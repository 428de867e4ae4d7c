/**
 * Email through nodemailer: to the SMTP server of `SMTP_URL`, or, without one, into the local outbox
 * (one `.eml` file per message, readable by any mail program, and listed by the API at /outbox).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { writeOutboxEntry } from './outbox';

export interface OutgoingEmail {
  to: string;
  from: string;
  replyTo?: string;
  subject: string;
  text: string;
  html?: string;
  /** Derived from the send key, so a duplicate is recognisable downstream. */
  messageId: string;
  headers?: Record<string, string>;
}

export interface Mailer {
  /** Where mail goes, for the start-up log: `smtp://host:port` or the outbox folder. */
  readonly destination: string;
  send(message: OutgoingEmail): Promise<{ response: string }>;
  close(): void;
}

/** An SMTP reply of 5xx: the server refused the message for good. */
export function isPermanentSmtpError(err: unknown): boolean {
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export function createMailer(options: { smtpUrl?: string | undefined; outboxDir: string; timeoutMs?: number }): Mailer {
  if (options.smtpUrl) {
    const url = new URL(options.smtpUrl);
    const timeout = options.timeoutMs ?? 60_000;
    const smtp: SMTPPool.Options = {
      pool: true,
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
      secure: url.protocol === 'smtps:',
      ...(url.username
        ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
        : {}),
      maxConnections: 5,
      connectionTimeout: Math.min(timeout, 30_000),
      greetingTimeout: Math.min(timeout, 30_000),
      socketTimeout: timeout,
    };
    const transport = nodemailer.createTransport(smtp);
    return {
      destination: `${url.protocol}//${url.host}`,
      async send(m) {
        const info = (await transport.sendMail({ ...m, messageId: m.messageId })) as { response?: string };
        return { response: info.response ?? 'accepted' };
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    destination: options.outboxDir,
    async send(m) {
      const info = (await transport.sendMail({ ...m, messageId: m.messageId })) as { message: Buffer };
      const name = await writeOutboxEntry(options.outboxDir, 'email', {
        to: m.to,
        from: m.from,
        subject: m.subject,
        text: m.text,
        messageId: m.messageId,
      });
      await fs.writeFile(path.join(options.outboxDir, `${name}.eml`), info.message);
      return { response: `written to outbox as ${name}.eml` };
    },
    close: () => transport.close(),
  };
}
