/**
 * The send activity: picks the channel, renders the message, and sends it at most once per send key
 * (claimed in the ledger before the provider call, recorded after), writing the outcome on the
 * customer's timeline.
 */
import { createHash } from 'node:crypto';
import { activityInfo, ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Category } from '../definitions/schema/common';
import type { JourneyEvent } from '../definitions/events';
import type { EventFacts, TaskFacts } from '../definitions/facts';
import type { Db } from './db/database';
import type { Channel, CustomerRow } from './db/schema';
import type { EmailContent, SmsContent } from './channels/content';
import { isPermanentSmtpError, type Mailer } from './channels/email';
import type { SmsSender } from './channels/sms';
import { renderHtml, renderText } from './render';
import { getCustomer } from './store/customers';
import { customerFacts } from './store/facts';
import { claimSend, finishedSend, markInFlight, recordOutcome } from './store/ledger';
import { activeSuppression, consentFor, recentSends, suppress } from './store/consent';
import { decide, DEFAULT_POLICY, type PolicySettings } from './policy';
import { appendTimeline } from './store/timeline';

export interface SendRequest {
  /** `send:<enrollment>:<step>:<visit>`; the channel is appended once chosen. */
  keyBase: string;
  customerId: string;
  journeyId: string;
  version: number;
  category: Category;
  stepId: string;
  channel: Channel | 'preferred';
  email?: EmailContent;
  sms?: SmsContent;
  event: JourneyEvent;
  events: Record<string, EventFacts>;
  tasks: Record<string, TaskFacts>;
  enrolledAt: string;
  /** Workflow time of the step, ISO 8601: the time the timeline shows. */
  at: string;
  /** The journey's `sending` settings. */
  sending?: {
    quietHours?: { start: string; end: string } | undefined;
    frequencyCap?: boolean | undefined;
    whenCapped?: 'defer' | 'skip' | undefined;
  };
}

export interface SendOutcome {
  status: 'sent' | 'skipped' | 'failed' | 'deferred';
  channel?: Channel;
  sendKey?: string;
  detail?: string;
  /** For `deferred`: when to try again (ISO 8601). */
  until?: string;
}

/** Points of a send between claim and record, where fault-injection tests stop the worker. */
export type SendPoint = 'after-claim' | 'in-flight' | 'after-send' | 'after-record';

export interface MessagingDeps {
  db: Db;
  mailer: Mailer;
  sms: SmsSender;
  mailFrom: string;
  logger: Logger;
  policy?: PolicySettings;
  /** Called at each point of a send; test/integration/exactly-once.test.ts kills the worker there. */
  onSendPoint?: ((point: SendPoint, sendKey: string) => void) | undefined;
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

function domainOf(from: string): string {
  const m = /@([^>\s]+)/.exec(from);
  return m?.[1] ?? 'rapport.local';
}

function reachable(customer: CustomerRow, channel: Channel): boolean {
  return channel === 'email' ? Boolean(customer.email) : Boolean(customer.phone);
}

/** The channel a send uses, or why there is none. */
function chooseChannel(req: SendRequest, customer: CustomerRow): Channel | { skip: string } {
  if (req.channel !== 'preferred') {
    return reachable(customer, req.channel)
      ? req.channel
      : { skip: req.channel === 'email' ? 'no email address' : 'no phone number' };
  }
  const order: Channel[] = customer.preferred_channel === 'sms' ? ['sms', 'email'] : ['email', 'sms'];
  const usable = order.find((c) => reachable(customer, c) && (c === 'email' ? req.email : req.sms));
  return usable ?? { skip: 'no reachable channel' };
}

export function createMessaging(deps: MessagingDeps) {
  const { db, logger } = deps;
  const policy = deps.policy ?? DEFAULT_POLICY;
  const at = (point: SendPoint, sendKey: string) => deps.onSendPoint?.(point, sendKey);
  const longestWindow = Math.max(0, ...Object.values(policy.caps).map((c) => c.windowMs));

  async function writeTimeline(req: SendRequest, sendKey: string, summary: string, data: Record<string, unknown>) {
    await appendTimeline(db, {
      customerId: req.customerId,
      at: req.at,
      kind: 'message',
      summary,
      ref: sendKey,
      data: { journey: req.journeyId, version: req.version, step: req.stepId, ...data },
    });
  }

  async function sendMessage(req: SendRequest): Promise<SendOutcome> {
    // Alive while the provider takes its time (an SMTP server may wait long before its final reply).
    const beat = setInterval(() => heartbeatIfActive(), 5000);
    try {
      heartbeatIfActive();
      return await sendOnce(req);
    } finally {
      clearInterval(beat);
    }
  }

  async function sendOnce(req: SendRequest): Promise<SendOutcome> {
    const customer = await getCustomer(db, req.customerId);
    if (!customer) return { status: 'skipped', detail: 'customer not found' };
    // A retry keeps the channel an earlier attempt chose, whatever changed since.
    const earlier = await db
      .selectFrom('send_ledger')
      .select('channel')
      .where('send_key', 'like', `${req.keyBase}:%`)
      .executeTakeFirst();
    const choice = earlier ? earlier.channel : chooseChannel(req, customer);
    if (typeof choice !== 'string') {
      const sendKey = `${req.keyBase}:${req.channel}`;
      await writeTimeline(req, sendKey, `message skipped: ${choice.skip}`, { status: 'skipped', reason: choice.skip });
      return { status: 'skipped', sendKey, detail: choice.skip };
    }
    const channel = choice;
    const sendKey = `${req.keyBase}:${channel}`;
    const workflowId = activityInfo().workflowExecution?.workflowId ?? 'unknown';

    // A key with an outcome already (a retry, a replay) returns it: nothing is sent twice.
    const finished = await finishedSend(db, sendKey);
    if (finished) {
      const status = finished.state === 'sent' ? 'sent' : finished.state === 'skipped' ? 'skipped' : 'failed';
      return { status, channel, sendKey, detail: finished.error ?? finished.providerRef ?? finished.state };
    }

    // The contact policy, at the time the journey sends, or now for a retry that comes later.
    const now = Math.max(Date.parse(req.at), Date.now());
    const decision = decide(
      {
        channel,
        category: req.category,
        now,
        timezone: customer.timezone,
        quietHours: req.sending?.quietHours,
        frequencyCap: req.sending?.frequencyCap,
        whenCapped: req.sending?.whenCapped,
        consent: await consentFor(db, customer.id, channel),
        suppressed: await activeSuppression(db, customer.id, channel),
        recentSends: longestWindow > 0 ? await recentSends(db, customer.id, new Date(now - longestWindow)) : [],
      },
      policy,
    );
    if ('skip' in decision) {
      await claimSend(db, { sendKey, customerId: customer.id, workflowId, stepId: req.stepId, channel });
      await recordOutcome(db, sendKey, 'skipped', { error: decision.skip, category: req.category });
      await writeTimeline(req, sendKey, `${channel} skipped: ${decision.skip}`, {
        status: 'skipped',
        channel,
        reason: decision.skip,
      });
      return { status: 'skipped', channel, sendKey, detail: decision.skip };
    }
    if ('defer' in decision) {
      const until = new Date(decision.defer).toISOString();
      await appendTimeline(db, {
        customerId: req.customerId,
        at: req.at,
        kind: 'message',
        summary: `${channel} deferred until ${until}: ${decision.reason}`,
        ref: `${sendKey}:deferred:${until}`,
        data: {
          journey: req.journeyId,
          version: req.version,
          step: req.stepId,
          status: 'deferred',
          channel,
          until,
          reason: decision.reason,
        },
      });
      return { status: 'deferred', channel, sendKey, until, detail: decision.reason };
    }

    const claim = await claimSend(db, { sendKey, customerId: customer.id, workflowId, stepId: req.stepId, channel });
    if (claim.kind === 'done') {
      const status = claim.state === 'sent' ? 'sent' : claim.state === 'skipped' ? 'skipped' : 'failed';
      return { status, channel, sendKey, detail: claim.error ?? claim.providerRef ?? claim.state };
    }
    if (claim.kind === 'in_flight') {
      // An earlier attempt died during the provider call. Sending again could duplicate the message,
      // so it is recorded as unknown (at most once) and reported on the timeline.
      const reason = 'outcome unknown: an earlier attempt stopped while the message was being handed over';
      await recordOutcome(db, sendKey, 'unknown', { error: reason });
      await writeTimeline(req, sendKey, `${channel} outcome unknown`, { status: 'unknown', channel, reason });
      logger.warn({ sendKey: hashKey(sendKey), channel }, 'send outcome unknown after an interrupted attempt');
      return { status: 'failed', channel, sendKey, detail: reason };
    }

    const variables = {
      customer: await customerFacts(db, customer),
      event: req.event,
      events: req.events,
      tasks: req.tasks,
      journey: { id: req.journeyId, version: req.version, enrolledAt: req.enrolledAt },
      now: req.at,
    };

    try {
      if (channel === 'email') {
        const content = req.email;
        if (!content) throw ApplicationFailure.nonRetryable(`step ${req.stepId} has no email content`, 'NoContent');
        const [subject, text, html] = await Promise.all([
          renderText(content.subject, variables),
          renderText(content.text, variables),
          content.html ? renderHtml(content.html, variables) : Promise.resolve(undefined),
        ]);
        at('after-claim', sendKey);
        await markInFlight(db, sendKey);
        at('in-flight', sendKey);
        const result = await deps.mailer.send({
          to: customer.email!,
          from: deps.mailFrom,
          subject,
          text,
          ...(html ? { html } : {}),
          messageId: `<${hashKey(sendKey)}@${domainOf(deps.mailFrom)}>`,
        });
        at('after-send', sendKey);
        await recordOutcome(db, sendKey, 'sent', {
          providerRef: result.response,
          sentAt: req.at,
          category: req.category,
        });
        at('after-record', sendKey);
        await writeTimeline(req, sendKey, `email sent: ${subject}`, {
          status: 'sent',
          channel,
          subject,
          ...(content.template ? { template: content.template } : {}),
        });
        return { status: 'sent', channel, sendKey, detail: subject };
      }
      const content = req.sms;
      if (!content) throw ApplicationFailure.nonRetryable(`step ${req.stepId} has no sms content`, 'NoContent');
      const text = await renderText(content.text, variables);
      await markInFlight(db, sendKey);
      const result = await deps.sms.send({ to: customer.phone!, text, key: hashKey(sendKey) });
      await recordOutcome(db, sendKey, 'sent', { providerRef: result.ref, sentAt: req.at, category: req.category });
      const firstLine = text.split('\n')[0] ?? '';
      await writeTimeline(req, sendKey, `sms sent: ${firstLine}`, {
        status: 'sent',
        channel,
        ...(content.template ? { template: content.template } : {}),
      });
      return { status: 'sent', channel, sendKey, detail: firstLine };
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) throw err;
      const message = err instanceof Error ? err.message : String(err);
      if (isPermanentSmtpError(err)) {
        await recordOutcome(db, sendKey, 'failed_permanent', { error: message });
        // A permanent refusal of the address is a hard bounce: no more email to it.
        if (channel === 'email' && /^55[0-3]\b/.test(String((err as { responseCode?: number }).responseCode ?? ''))) {
          await suppress(db, customer.id, 'email', 'hard_bounce', message.slice(0, 300), req.at);
        }
        await writeTimeline(req, sendKey, `${channel} failed: ${message}`, {
          status: 'failed',
          channel,
          reason: message,
        });
        return { status: 'failed', channel, sendKey, detail: message };
      }
      // Not accepted: free the key for the next attempt, which Temporal schedules with backoff.
      await recordOutcome(db, sendKey, 'failed_retryable', { error: message });
      throw ApplicationFailure.retryable(`${channel} send failed, will retry: ${message}`, 'SendFailed');
    }
  }

  return { sendMessage };
}

function heartbeatIfActive(): void {
  try {
    heartbeat();
  } catch {
    // Not inside an activity (a direct call in a test).
  }
}
