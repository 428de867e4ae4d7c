/**
 * What the channels post back: Twilio's inbound SMS and status callbacks (signed with
 * X-Twilio-Signature, verified before anything is read), and the unsubscribe link of marketing email:
 * its preference page and one click (RFC 8058).
 */
import { createHash } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { validateRequest } from 'twilio/lib/webhooks/webhooks';
import { z } from 'zod';
import type { Db } from '../../../activities/db/database';
import { smsKeyword } from '../../../activities/channels/sms-keywords';
import { type LinkPayload, type UnsubscribeKeys, verifyLink } from '../../../activities/channels/unsubscribe';
import { recordMessageOutcome } from '../../../activities/store/journey-stats';
import { lastSmsSent, sendKeyByHash } from '../../../activities/store/ledger';
import { liftAddressSuppression, liftSuppression, suppress, suppressAddress } from '../../../activities/store/consent';
import { currentCustomerId, findCustomer } from '../../../activities/store/customers';
import { incomingEvent, type ParsedEvent } from '../events/schema';
import { recordDeliveryStatus } from '../../../activities/store/delivery';
import { appendTimeline } from '../../../activities/store/timeline';
import { loadTexts } from '../../../activities/texts';
import { builtinTextsDir } from '../../../paths';
import { FailureLimiter } from './auth';
import { emailWebhooks } from './email-webhooks';
import { registerPreferenceRoutes } from './preferences';
import { sendProblem } from './problems';

export interface ChannelSettings {
  /** The address customers and Twilio reach this instance at, such as https://rapport.example.com. */
  publicUrl: string;
  unsubscribeKeys?: UnsubscribeKeys | undefined;
  /** Verifies Twilio's webhooks; without it they are refused. */
  twilioAuthToken?: string | undefined;
  /**
   * The answer to HELP in the default language, over `help` of the texts' sms.yaml
   * (RAPPORT_SMS_HELP_TEXT); a customer whose locale has a variant gets that variant's.
   */
  smsHelpText?: string | undefined;
  /** Verifies POST /webhooks/email (RAPPORT_EMAIL_WEBHOOK_SECRET); without it, that webhook refuses all. */
  emailWebhookSecret?: string | undefined;
  /** Verifies POST /webhooks/mailgun (MAILGUN_WEBHOOK_SIGNING_KEY); without it, that webhook refuses all. */
  mailgunSigningKey?: string | undefined;
  /**
   * A deployment's folder of texts (the preference page, topic names, the SMS HELP answer) over the
   * built-in ones (RAPPORT_TEXTS_DIR).
   */
  textsDir?: string | undefined;
}

/** A signed token in a path: an unsubscribe link's, a tracked link's, an open pixel's. */
const tokenParam = z.object({ token: z.string().min(10).max(4000) });

/** The largest body a public route takes: Twilio's forms and unsubscribe posts are far smaller. */
const PUBLIC_BODY_LIMIT = 64 * 1024;

const inboundSms = z.object({
  MessageSid: z.string().min(1).max(64),
  From: z.string().min(1).max(32),
  Body: z.string().max(1600).default(''),
});

const statusCallback = z.object({
  MessageSid: z.string().min(1).max(64),
  MessageStatus: z.string().min(1).max(32),
  ErrorCode: z.string().max(16).optional(),
});

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function twiml(reply: FastifyReply, message?: string) {
  const body = message ? `<Message>${escapeXml(message)}</Message>` : '';
  return reply.type('text/xml').send(`<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`);
}

function page(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .header('Referrer-Policy', 'no-referrer')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
        `<meta name="robots" content="noindex"><title>${title}</title>` +
        `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}` +
        `button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #444;background:#222;color:#fff;cursor:pointer}</style>` +
        `</head><body><h1>${title}</h1>${body}</body></html>`,
    );
}

/** The routes, as a Fastify plugin. */
/** Sends an event into Rapport as if another system had: `email.clicked`, `email.opened`. */
type Emit = (event: ParsedEvent) => Promise<unknown>;

export function channelRoutes(
  db: Db,
  settings: ChannelSettings,
  logger: Logger,
  failures = new FailureLimiter(),
  emit?: Emit,
): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRoute', (route) => {
      route.bodyLimit = Math.min(route.bodyLimit ?? PUBLIC_BODY_LIMIT, PUBLIC_BODY_LIMIT);
    });
    // Forms are parsed here only: a form another site's page posts to an admin route is refused
    // there (415), not parsed (a cross-site request needs no preflight for a form).
    await app.register(formbody, { bodyLimit: PUBLIC_BODY_LIMIT });
    registerChannelRoutes(app, db, settings, logger, failures);
    registerTrackingRoutes(app, db, settings, logger, emit);
    await app.register(
      emailWebhooks(db, { generic: settings.emailWebhookSecret, mailgun: settings.mailgunSigningKey }, logger),
    );
  };
}

/** A transparent 1×1 GIF: what the open pixel answers. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/**
 * Tracked links and the open pixel (activities/channels/tracking.ts). A click is recorded on the
 * customer's timeline (once per link of a message), counted in its journey's report (once per
 * message), and sent on as an `email.clicked` event that journeys can wait for; then the customer is
 * sent where the link leads, which the token's signature binds: nothing else can be put there.
 * Recording never stands in the customer's way: when it fails, the redirect still happens.
 */
function registerTrackingRoutes(
  app: Parameters<FastifyPluginAsync>[0],
  db: Db,
  settings: ChannelSettings,
  logger: Logger,
  emit: Emit | undefined,
) {
  const log = logger.child({ component: 'tracking' });
  const verified = (token: string, kind: 'click' | 'open'): LinkPayload | undefined => {
    const keys = settings.unsubscribeKeys;
    const result = keys ? verifyLink(keys, token) : { ok: false as const, reason: 'no signing keys' };
    if (!result.ok || result.payload.l !== kind) {
      log.warn({ reason: result.ok ? 'a token of another kind' : result.reason }, `${kind} link refused`);
      return undefined;
    }
    return result.payload;
  };

  const record = async (payload: LinkPayload) => {
    const customerId = await currentCustomerId(db, payload.c);
    const sendKey = await sendKeyByHash(db, customerId, payload.s);
    if (!sendKey) return;
    const at = new Date();
    const clicked = payload.l === 'click';
    const ref = clicked
      ? `click:${payload.s}:${createHash('sha256').update(payload.u!).digest('hex').slice(0, 16)}`
      : `open:${payload.s}`;
    const origin = await recordMessageOutcome(db, sendKey, { kind: payload.l }, at);
    await appendTimeline(db, {
      customerId,
      at,
      kind: 'message',
      summary: clicked ? `email link clicked: ${new URL(payload.u!).host}` : 'email opened',
      ref,
      data: {
        status: clicked ? 'clicked' : 'opened',
        channel: 'email',
        ...(origin ? { journey: origin.journeyId, version: origin.version, step: origin.stepId } : {}),
        ...(clicked ? { url: payload.u } : {}),
      },
    });
    // Once per link (the event id), so a second click of it moves no journey on again.
    await emit?.(
      incomingEvent.parse({
        id: ref,
        type: clicked ? 'email.clicked' : 'email.opened',
        customer: { id: customerId },
        occurredAt: at.toISOString(),
        data: {
          ...(origin ? { journey: origin.journeyId, step: origin.stepId } : {}),
          ...(clicked ? { url: payload.u } : {}),
        },
      }),
    );
  };

  const tokenOf = (params: unknown) => tokenParam.safeParse(params);

  app.get('/l/:token', async (req, reply) => {
    const params = tokenOf(req.params);
    const payload = params.success ? verified(params.data.token, 'click') : undefined;
    const target = payload && URL.canParse(payload.u!) ? new URL(payload.u!).href : undefined;
    if (!payload || !target) {
      return page(reply, 404, 'Link not found', '<p>This link is not valid. Please use the link in the email.</p>');
    }
    try {
      await record(payload);
    } catch (err) {
      log.error({ err }, 'a click could not be recorded; the customer is sent on');
    }
    return reply.code(302).header('cache-control', 'no-store').redirect(target);
  });

  app.get('/o/:token', async (req, reply) => {
    const params = tokenOf(req.params);
    const payload = params.success ? verified(params.data.token, 'open') : undefined;
    if (payload) {
      try {
        await record(payload);
      } catch (err) {
        log.error({ err }, 'an open could not be recorded');
      }
    }
    return reply.code(200).header('cache-control', 'no-store').type('image/gif').send(PIXEL);
  });
}

function registerChannelRoutes(
  app: Parameters<FastifyPluginAsync>[0],
  db: Db,
  settings: ChannelSettings,
  logger: Logger,
  failures: FailureLimiter,
): void {
  const log = logger.child({ component: 'channels' });
  const base = settings.publicUrl.replace(/\/+$/, '');
  const smsTexts = loadTexts('sms', builtinTextsDir, ...(settings.textsDir ? [settings.textsDir] : []));
  const defaultHelp = smsTexts.for(undefined).help;
  if (!defaultHelp && !settings.smsHelpText) throw new Error('the texts sms.yaml give no "help" text');
  /**
   * The answer to HELP in `locale`: its variant's text, or the default one, which
   * RAPPORT_SMS_HELP_TEXT replaces. A variant saying just what the default says counts as the default.
   */
  const helpText = (locale: string | undefined): string => {
    const localised = smsTexts.for(locale).help;
    if (localised && localised !== defaultHelp) return localised;
    return settings.smsHelpText ?? defaultHelp!;
  };

  /** Refuses, and logs, a webhook whose signature does not match; true when it may go on. */
  const signed = (req: FastifyRequest, reply: FastifyReply): boolean => {
    if (failures.refused(req, reply)) return false;
    const token = settings.twilioAuthToken;
    if (!token) {
      void sendProblem(reply, 503, 'Twilio is not configured', 'set TWILIO_AUTH_TOKEN to receive Twilio webhooks');
      return false;
    }
    const signature = req.headers['x-twilio-signature'];
    const params = (req.body ?? {}) as Record<string, string>;
    const url = `${base}${req.url}`;
    if (typeof signature !== 'string' || !validateRequest(token, signature, url, params)) {
      log.warn(
        { route: req.routeOptions.url, ip: req.ip, signed: typeof signature === 'string' },
        'Twilio webhook refused: the X-Twilio-Signature does not match',
      );
      failures.note(req.ip);
      void sendProblem(reply, 403, 'Forbidden', 'the X-Twilio-Signature header does not match this request');
      return false;
    }
    return true;
  };

  app.post('/webhooks/twilio/inbound', async (req, reply) => {
    if (!signed(req, reply)) return reply;
    const parsed = inboundSms.safeParse(req.body);
    if (!parsed.success) return sendProblem(reply, 422, 'Invalid webhook', 'expected MessageSid, From and Body');
    const { MessageSid: sid, From: from, Body: text } = parsed.data;
    const keyword = smsKeyword(text);
    const help = async () =>
      keyword === 'help' ? twiml(reply, helpText((await findCustomer(db, { phone: from }))?.locale)) : twiml(reply);
    const at = new Date();
    // Acted on once, in one transaction with what it does: a replayed (or retried) message changes
    // nothing, so a START replayed after a later STOP cannot subscribe the customer again.
    const outcome = await db.transaction().execute(async (tx) => {
      const first = await tx
        .insertInto('inbound_messages')
        .values({ sid, received_at: at })
        .onConflict((oc) => oc.column('sid').doNothing())
        .returning('sid')
        .executeTakeFirst();
      if (!first) return 'replayed' as const;
      // The number itself: an opt-out holds for whoever has it, now or later.
      if (keyword === 'stop') await suppressAddress(tx, 'sms', from, 'stop', at);
      if (keyword === 'start') await liftAddressSuppression(tx, 'sms', from, at);
      const customer = await findCustomer(tx, { phone: from });
      if (!customer) return 'no-customer' as const;
      await appendTimeline(tx, {
        customerId: customer.id,
        at,
        kind: 'message',
        summary: keyword ? `sms received: ${keyword.toUpperCase()}` : 'sms received',
        ref: `sms-in:${sid}`,
        data: { status: 'received', channel: 'sms', direction: 'inbound', providerRef: sid, text, keyword },
      });
      // Every SMS stops at once, whichever journey would send it: the send checks suppression first.
      if (keyword === 'stop') {
        await suppress(tx, customer.id, 'sms', 'stop', `replied ${text.trim().slice(0, 40)}`, at);
      }
      if (keyword === 'start')
        await liftSuppression(tx, customer.id, 'sms', ['stop'], `replied ${text.trim().slice(0, 40)}`, at);
      return customer.id;
    });
    if (keyword === 'stop' && outcome !== 'replayed' && outcome !== 'no-customer') {
      // Counted, once the opt-out holds, against the journey step whose text it answered: the last one
      // sent. A failure here costs a count, never the opt-out.
      try {
        const answered = await lastSmsSent(db, outcome);
        if (answered) await recordMessageOutcome(db, answered, { kind: 'unsubscribe' }, at);
      } catch (err) {
        log.error({ err }, 'a STOP could not be counted in its journey report');
      }
    }
    if (outcome === 'replayed') log.info({ sid, keyword }, 'inbound SMS already acted on: a replay or a retry');
    else if (outcome === 'no-customer') log.info({ sid, keyword }, 'inbound SMS from a number no customer has');
    else if (keyword === 'stop' || keyword === 'start')
      log.info({ customerId: outcome, sid }, keyword === 'stop' ? 'sms opt-out' : 'sms opt-in again');
    return help();
  });

  app.post('/webhooks/twilio/status', async (req, reply) => {
    if (!signed(req, reply)) return reply;
    const parsed = statusCallback.safeParse(req.body);
    if (!parsed.success) return sendProblem(reply, 422, 'Invalid webhook', 'expected MessageSid and MessageStatus');
    const result = await recordDeliveryStatus(db, {
      providerRef: parsed.data.MessageSid,
      status: parsed.data.MessageStatus,
      errorCode: parsed.data.ErrorCode,
    });
    if (result.kind === 'unknown-message') log.info({ sid: parsed.data.MessageSid }, 'status of an unknown message');
    return reply.code(204).send();
  });

  // The unsubscribe link's page and its one click (client/server/api/preferences.ts). Mailbox
  // providers post List-Unsubscribe=One-Click as a urlencoded form or as multipart/form-data (RFC
  // 8058 allows both) or otherwise. The signed token is what authorizes: any body is taken, kept as
  // text when it is not a form.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: PUBLIC_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  registerPreferenceRoutes(app, db, settings, logger);
}
