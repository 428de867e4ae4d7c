/**
 * Email through nodemailer: to the SMTP server of `SMTP_URL` over a pool of connections, or, without
 * one, into the local outbox (one `.eml` file per message, readable by any mail program, and listed
 * by the API at /outbox).
 *
 * Failures are classified (see errors.ts). What SMTP cannot tell is whether a message was accepted
 * when the connection breaks or times out after the last byte of it went out (RFC 5321 §6.1). The
 * mailer watches the message stream: once the connection has read all of it, such a failure is
 * `ambiguous`; before that, the server has nothing to deliver, and it is `retryable`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { ChannelError } from './errors';
import { writeOutboxEntry } from './outbox';

interface OutgoingEmail {
  to: string;
  from: string;
  replyTo?: string;
  subject: string;
  text: string;
  html?: string;
  /** Derived from the send key, so a duplicate is recognisable downstream. */
  messageId: string;
  /** Extra headers, written as given (unfolded), such as List-Unsubscribe. */
  headers?: Record<string, string>;
}

export interface Mailer {
  /** Where mail goes, for the start-up log: `smtp://host:port` or the outbox folder. */
  readonly destination: string;
  /** Sends one message; a failure is a ChannelError. */
  send(message: OutgoingEmail): Promise<{ response: string }>;
  close(): void;
}

/** A bounced address: the mailbox does not exist or will not take mail (550-553). */
const HARD_BOUNCE = /^55[0-3]$/;

/** What a failure of nodemailer means, given whether the whole message had been handed over. */
export function classifySmtpError(err: unknown, handedOver: boolean): ChannelError {
  const e = err as { responseCode?: unknown; code?: unknown; message?: unknown; response?: unknown };
  const message = String(e.response ?? e.message ?? err);
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  if (reply !== undefined && reply >= 500 && reply < 600) {
    return new ChannelError(message, 'permanent', reply, HARD_BOUNCE.test(String(reply)) ? 'hard_bounce' : undefined);
  }
  if (reply !== undefined && reply >= 400 && reply < 500) return new ChannelError(message, 'retryable', reply);
  const code = typeof e.code === 'string' ? e.code : undefined;
  return handedOver
    ? new ChannelError(
        `no reply after the message was handed over (${code ?? 'connection lost'}): ${message}`,
        'ambiguous',
        code,
      )
    : new ChannelError(message, 'retryable', code);
}

function toMail(m: OutgoingEmail): Mail.Options {
  const headers = Object.fromEntries(
    Object.entries(m.headers ?? {}).map(([name, value]) => [name, { prepared: true, value }]),
  );
  return {
    to: m.to,
    from: m.from,
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    subject: m.subject,
    text: m.text,
    ...(m.html ? { html: m.html } : {}),
    messageId: m.messageId,
    headers,
  };
}

export function createMailer(options: { smtpUrl?: string | undefined; outboxDir: string; timeoutMs?: number }): Mailer {
  if (options.smtpUrl) {
    const url = new URL(options.smtpUrl);
    // The wait for the reply to the message itself. RFC 5321 asks for 10 minutes; a minute keeps a
    // send inside its activity's time limit while leaving a slow server plenty.
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
      // The pool would queue a message again when its connection closes, even after the message was
      // handed over. Retries belong to the send ledger, which knows when one is safe.
      maxRequeues: 0,
      connectionTimeout: Math.min(timeout, 30_000),
      greetingTimeout: Math.min(timeout, 30_000),
      socketTimeout: timeout,
    };
    const transport = nodemailer.createTransport(smtp);
    // Each message's stream is wrapped; the wrapper ends when the connection has read all of it.
    const handedOver = new Map<string, boolean>();
    transport.use('stream', (mail, done) => {
      const id = String(mail.data.messageId ?? '');
      mail.message.processFunc((input: Readable) => {
        const watched = new PassThrough();
        watched.once('end', () => {
          if (handedOver.has(id)) handedOver.set(id, true);
        });
        input.on('error', (err) => watched.destroy(err));
        return input.pipe(watched);
      });
      done();
    });
    return {
      destination: `${url.protocol}//${url.host}`,
      async send(m) {
        handedOver.set(m.messageId, false);
        try {
          const info = (await transport.sendMail(toMail(m))) as { response?: string };
          return { response: info.response ?? 'accepted' };
        } catch (err) {
          throw classifySmtpError(err, handedOver.get(m.messageId) === true);
        } finally {
          handedOver.delete(m.messageId);
        }
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    destination: options.outboxDir,
    async send(m) {
      const info = (await transport.sendMail(toMail(m))) as { message: Buffer };
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
