/**
 * Bounces, complaints and deliveries that a mail provider reports after the relay took a message
 * (activities/store/email-feedback.ts), through signed webhooks:
 *
 * - `POST /webhooks/email`, Rapport's own shape, for any provider or a small adapter in front of one:
 *   `{"events": [{"type": "bounce", "email": "...", "messageId": "<...>", "bounce": "hard", "at": "..."}]}`,
 *   signed with RAPPORT_EMAIL_WEBHOOK_SECRET: `X-Rapport-Timestamp` (Unix seconds) and
 *   `X-Rapport-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`;
 * - `POST /webhooks/mailgun`, Mailgun's event webhooks as Mailgun sends them, signed with its
 *   webhook signing key (MAILGUN_WEBHOOK_SIGNING_KEY).
 *
 * A signature more than five minutes old is refused, so a captured request cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../../activities/db/database';
import { type EmailFeedback, recordEmailFeedback } from '../../../activities/store/email-feedback';
import { sendProblem } from './problems';

/** How old a signed request may be. */
const MAX_AGE_S = 300;

const genericBody = z.object({
  events: z
    .array(
      z
        .object({
          type: z.enum(['bounce', 'complaint', 'delivered']),
          email: z.email('expected an email address'),
          messageId: z.string().max(998).optional(),
          bounce: z.enum(['hard', 'soft']).optional(),
          reason: z.string().max(2000).optional(),
          at: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 time' }).optional(),
        })
        .strict(),
    )
    .min(1)
    .max(1000),
});

const mailgunBody = z.object({
  signature: z.object({ timestamp: z.string(), token: z.string(), signature: z.string() }),
  'event-data': z.object({
    event: z.string(),
    severity: z.string().optional(),
    recipient: z.string(),
    timestamp: z.number().optional(),
    reason: z.string().optional(),
    message: z.object({ headers: z.record(z.string(), z.unknown()).optional() }).optional(),
    'delivery-status': z.object({ description: z.string().optional(), message: z.string().optional() }).optional(),
  }),
});

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function fresh(timestamp: string): boolean {
  const t = Number(timestamp);
  return Number.isFinite(t) && Math.abs(Date.now() / 1000 - t) <= MAX_AGE_S;
}

/** Mailgun's event as Rapport's feedback; undefined for an event that is none of those. */
function fromMailgun(e: z.infer<typeof mailgunBody>['event-data']): EmailFeedback | undefined {
  const messageId = e.message?.headers?.['message-id'];
  const common = {
    email: e.recipient,
    messageId: typeof messageId === 'string' ? messageId : undefined,
    at: e.timestamp ? new Date(e.timestamp * 1000) : new Date(),
    reason: e['delivery-status']?.description || e['delivery-status']?.message || e.reason,
  };
  if (e.event === 'failed') return { ...common, type: 'bounce', bounce: e.severity === 'permanent' ? 'hard' : 'soft' };
  if (e.event === 'complained') return { ...common, type: 'complaint' };
  if (e.event === 'delivered') return { ...common, type: 'delivered' };
  return undefined;
}

export function emailWebhooks(
  db: Db,
  secrets: { generic?: string | undefined; mailgun?: string | undefined },
  logger: Logger,
): FastifyPluginAsync {
  return (app) => {
    const log = logger.child({ component: 'email-webhooks' });
    // The signature is over the body as sent: it is kept as text and parsed here.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    const parse = (body: unknown): unknown => {
      try {
        return JSON.parse(String(body));
      } catch {
        return undefined;
      }
    };
    const refuse = (reply: FastifyReply, why: string, ip: string) => {
      log.warn({ reason: why, ip }, 'email webhook refused');
      return sendProblem(reply, 401, 'Unauthorized', 'the webhook signature is missing, wrong or too old');
    };

    app.post('/webhooks/email', async (req, reply) => {
      const secret = secrets.generic;
      const timestamp = String(req.headers['x-rapport-timestamp'] ?? '');
      const signature = String(req.headers['x-rapport-signature'] ?? '');
      if (!secret) return refuse(reply, 'RAPPORT_EMAIL_WEBHOOK_SECRET is not set', req.ip);
      const expected = `sha256=${createHmac('sha256', secret)
        .update(`${timestamp}.${String(req.body)}`)
        .digest('hex')}`;
      if (!fresh(timestamp) || !sameHex(signature, expected)) return refuse(reply, 'bad signature', req.ip);
      const parsed = genericBody.safeParse(parse(req.body));
      if (!parsed.success) {
        return sendProblem(
          reply,
          422,
          'Invalid webhook',
          'expected {"events": [...]}',
          parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        );
      }
      for (const e of parsed.data.events) {
        await recordEmailFeedback(db, { ...e, at: e.at ? new Date(e.at) : new Date() });
      }
      return reply.code(204).send();
    });

    app.post('/webhooks/mailgun', async (req, reply) => {
      const key = secrets.mailgun;
      if (!key) return refuse(reply, 'MAILGUN_WEBHOOK_SIGNING_KEY is not set', req.ip);
      const parsed = mailgunBody.safeParse(parse(req.body));
      if (!parsed.success) return refuse(reply, 'not a signed Mailgun event', req.ip);
      const { timestamp, token, signature } = parsed.data.signature;
      const expected = createHmac('sha256', key).update(`${timestamp}${token}`).digest('hex');
      if (!fresh(timestamp) || !sameHex(signature, expected)) return refuse(reply, 'bad signature', req.ip);
      const feedback = fromMailgun(parsed.data['event-data']);
      if (feedback) await recordEmailFeedback(db, feedback);
      return reply.code(204).send();
    });
    return Promise.resolve();
  };
}
