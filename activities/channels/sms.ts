/**
 * SMS: through Twilio's Messages API with the `twilio` SDK, or, without a Twilio account, into the
 * local outbox.
 *
 * The Messages API takes no idempotency key, so the SDK's own retries stay off: one request per
 * attempt, and every retry decided by the send ledger. A request that timed out may still have
 * created the message; `find` looks it up in Twilio's message list before anything is sent again.
 */
import { SegmentedMessage } from 'sms-segments-calculator';
import type { Twilio } from 'twilio';
import type twilioSdk from 'twilio';
import RestException from 'twilio/lib/base/RestException';
import { ChannelError } from './errors';
import { writeOutboxEntry } from './outbox';

interface OutgoingSms {
  to: string;
  text: string;
  /** A hash of the send key: names the message in status callbacks. */
  key: string;
}

export interface SmsSender {
  readonly destination: string;
  /** Who the messages come from (the From number or the Messaging Service SID): whose sending limit applies. */
  readonly sender?: string;
  /** Sends one message; a failure is a ChannelError. */
  send(message: OutgoingSms): Promise<{ ref: string }>;
  /**
   * The provider's id of a message with this recipient and text created since `since`, if the
   * provider has one: how a send that timed out is reconciled. Absent when the provider cannot tell.
   */
  find?(message: { to: string; text: string; since: Date }): Promise<string | undefined>;
}

/** Encoding and number of segments, as carriers bill them. */
export function smsSegments(text: string): { encoding: 'GSM-7' | 'UCS-2'; segments: number } {
  const m = new SegmentedMessage(text);
  return { encoding: m.encodingName === 'UCS-2' ? 'UCS-2' : 'GSM-7', segments: m.segmentsCount };
}

export function createOutboxSmsSender(outboxDir: string): SmsSender {
  return {
    destination: outboxDir,
    async send(m) {
      const name = await writeOutboxEntry(outboxDir, 'sms', { to: m.to, text: m.text, messageId: m.key });
      return { ref: name };
    },
  };
}

export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** A sender number (E.164) or a Messaging Service SID (MG…): one of them. */
  from?: string | undefined;
  messagingServiceSid?: string | undefined;
  /** Where Twilio posts delivery status: `<publicUrl>/webhooks/twilio/status`. */
  statusCallbackUrl?: string | undefined;
  /** Another address for Twilio's REST API (a proxy, or a stand-in in tests); default https://api.twilio.com. */
  apiUrl?: string | undefined;
  timeoutMs?: number;
}

/** Network errors where the request never reached Twilio: safe to send again. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Twilio error codes that no retry will change. */
const PERMANENT_CODES: Record<number, 'stop' | undefined> = {
  21211: undefined, // invalid 'To' number
  21214: undefined, // 'To' number cannot be reached
  21408: undefined, // region not enabled
  21610: 'stop', // the recipient replied STOP to this sender
  21612: undefined, // not reachable from this sender
  21614: undefined, // not a mobile number
};

export function classifyTwilioError(err: unknown): ChannelError {
  const e = err as { status?: unknown; code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (err instanceof RestException || typeof e.status === 'number') {
    const status = Number(e.status);
    const code = typeof e.code === 'number' ? e.code : undefined;
    if (code !== undefined && code in PERMANENT_CODES) {
      return new ChannelError(`Twilio ${code}: ${message}`, 'permanent', code, PERMANENT_CODES[code]);
    }
    if (status === 429 || status >= 500) return new ChannelError(`Twilio ${status}: ${message}`, 'retryable', status);
    return new ChannelError(`Twilio ${code ?? status}: ${message}`, 'permanent', code ?? status);
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && NOT_SENT.has(code)) return new ChannelError(message, 'retryable', code);
  return new ChannelError(`no reply from Twilio (${code ?? 'connection lost'}): ${message}`, 'ambiguous', code);
}

type TwilioSdk = typeof twilioSdk;

/** The SDK's HTTP client, sending to another base address when one is configured. */
function httpClient(twilio: TwilioSdk, settings: TwilioSettings): InstanceType<TwilioSdk['RequestClient']> {
  const options = { timeout: settings.timeoutMs ?? 30_000, autoRetry: false };
  const base = settings.apiUrl?.replace(/\/+$/, '');
  if (!base) return new twilio.RequestClient(options);
  type Options<T> = Parameters<InstanceType<TwilioSdk['RequestClient']>['request']>[0] & { data?: T };
  class Redirected extends twilio.RequestClient {
    override request<T>(opts: Options<T>) {
      return super.request<T>({ ...opts, uri: opts.uri.replace(/^https:\/\/[^/]+/, () => base ?? '') });
    }
  }
  return new Redirected(options);
}

export function createTwilioSender(settings: TwilioSettings): SmsSender {
  // The SDK (about 25 MiB of modules) is loaded with the first message, not by every process that
  // could send one.
  let loaded: Promise<Twilio> | undefined;
  const twilioClient = () =>
    (loaded ??= import('twilio').then(({ default: twilio }) => {
      return twilio(settings.accountSid, settings.authToken, { httpClient: httpClient(twilio, settings) });
    }));
  const sender = settings.messagingServiceSid
    ? { messagingServiceSid: settings.messagingServiceSid }
    : { from: settings.from ?? '' };
  return {
    destination: settings.apiUrl ?? 'twilio',
    sender: settings.messagingServiceSid ?? settings.from ?? '',
    async send(m) {
      try {
        const client = await twilioClient();
        const message = await client.messages.create({
          to: m.to,
          body: m.text,
          ...sender,
          ...(settings.statusCallbackUrl
            ? { statusCallback: `${settings.statusCallbackUrl}?k=${encodeURIComponent(m.key)}` }
            : {}),
        });
        return { ref: message.sid };
      } catch (err) {
        throw classifyTwilioError(err);
      }
    },
    async find(m) {
      try {
        // Messages to this number since a minute before the attempt, newest first.
        const since = new Date(m.since.getTime() - 60_000);
        const client = await twilioClient();
        const list = await client.messages.list({
          to: m.to,
          ...(sender.from ? { from: sender.from } : {}),
          dateSentAfter: since,
          limit: 100,
        });
        const match = list.find((x) => x.body === m.text && (!x.dateCreated || x.dateCreated >= since));
        return match?.sid;
      } catch (err) {
        // Reconciling failed: nothing is known yet, so the send waits for the next attempt.
        const c = classifyTwilioError(err);
        throw new ChannelError(`could not check Twilio's message list: ${c.message}`, 'retryable', c.code);
      }
    },
  };
}
