/**
 * The send activity: picks the channel, renders the message, and sends it at most once per send key
 * (claimed in the ledger before the provider call, recorded after), writing the outcome on the
 * customer's timeline.
 */
import { activityInfo, ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Category } from '../definitions/schema/common';
import type { JourneyEvent } from '../definitions/events';
import type { CustomerFacts, DigestFacts, EventFacts, TaskFacts } from '../definitions/facts';
import { type Db, isDatabaseUnavailable } from './db/database';
import type { Channel, CustomerRow } from './db/schema';
import type { EmailContent, SmsContent } from './channels/content';
import type { Mailer } from './channels/email';
import { ChannelError } from './channels/errors';
import { smsSegments, type SmsSender } from './channels/sms';
import { signLink, signUnsubscribe, unsubscribeUrl, type UnsubscribeKeys } from './channels/unsubscribe';
import { trackHtmlLinks, trackTextLinks, withOpenPixel } from './channels/tracking';
import { OUTBOUND_MAX_ATTEMPTS } from '../definitions/retry';
import { renderHtml, renderText, textToHtml } from './render';
import { getCustomer } from './store/customers';
import { customerFacts } from './store/facts';
import {
  claimSend,
  earlierSend,
  lockCustomerSends,
  markInFlight,
  messageIdFor,
  reclaimSend,
  recordOutcome,
  sendKeyHash,
} from './store/ledger';
import { contactState, recentSends, suppress } from './store/consent';
import { decide, DEFAULT_POLICY, type PolicySettings } from './policy';
import { lockAccountSends, recentAccountSends } from './store/accounts';
import { appendTimeline } from './store/timeline';
import { learnedChannel } from './store/engagement';
import { inLocale } from '../definitions/steps/send-content';
import { retryDelayMs, type SendLimiter } from './send-rate';

export interface SendRequest {
  /** `send:<enrollment>:<step>:<visit>`; the channel is appended once chosen. */
  keyBase: string;
  customerId: string;
  journeyId: string;
  version: number;
  category: Category;
  /** The subscription topic of a marketing message (the step's, else the journey's). */
  topic?: string | undefined;
  stepId: string;
  channel: Channel | 'preferred';
  email?: EmailContent;
  sms?: SmsContent;
  event: JourneyEvent;
  events: Record<string, EventFacts | DigestFacts>;
  tasks: Record<string, TaskFacts>;
  enrolledAt: string;
  /** Workflow time of the step, ISO 8601: the time the timeline shows. */
  at: string;
  /** The journey's `sending` settings. */
  sending?: {
    quietHours?: { start: string; end: string } | undefined;
    frequencyCap?: boolean | undefined;
    whenCapped?: 'defer' | 'skip' | undefined;
    from?: string | undefined;
    replyTo?: string | undefined;
    trackClicks?: boolean | undefined;
    trackOpens?: boolean | undefined;
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
  /** Reply-To for journeys that set none. */
  replyTo?: string | undefined;
  /** Signs the one-click unsubscribe link of every marketing email. */
  unsubscribe?: { keys: UnsubscribeKeys; publicUrl: string } | undefined;
  logger: Logger;
  policy?: PolicySettings;
  /** The sending limits per channel and sender (RAPPORT_SEND_RATE); none: no limit. */
  sendRate?: SendLimiter | undefined;
  /** Called at each point of a send; test/integration/exactly-once.test.ts kills the worker there. */
  onSendPoint?: ((point: SendPoint, sendKey: string) => void) | undefined;
}

/** The domain of a From address, for Message-IDs. */
export function domainOf(from: string): string {
  const m = /@([^>\s]+)/.exec(from);
  return m?.[1] ?? 'rapport.local';
}

/**
 * Where a customer can be reached: what the choice of a channel reads. `learned_channel` is the
 * channel learned from their engagement (activities/store/engagement.ts), read when they have stated none.
 */
type Reachable = Pick<CustomerRow, 'email' | 'phone' | 'preferred_channel'> & { learned_channel?: Channel | null };

function reachable(customer: Reachable, channel: Channel): boolean {
  return channel === 'email' ? Boolean(customer.email) : Boolean(customer.phone);
}

/** The channel a send uses, or why there is none. */
export function chooseChannel(
  req: Pick<SendRequest, 'channel' | 'email' | 'sms'>,
  customer: Reachable,
): Channel | { skip: string } {
  if (req.channel !== 'preferred') {
    return reachable(customer, req.channel)
      ? req.channel
      : { skip: req.channel === 'email' ? 'no email address' : 'no phone number' };
  }
  // The stated preference first, else the learned one, else email then SMS.
  const first = customer.preferred_channel ?? customer.learned_channel;
  const order: Channel[] = first === 'sms' ? ['sms', 'email'] : ['email', 'sms'];
  const usable = order.find((c) => reachable(customer, c) && (c === 'email' ? req.email : req.sms));
  return usable ?? { skip: 'no reachable channel' };
}

/** Which rule chose the channel of a `preferred` send, in words: the stated preference, the learned one, or the default order. */
function channelRule(
  customer: Pick<CustomerRow, 'preferred_channel'>,
  learned: { channel: Channel | null; why: string } | undefined,
  chosen: Channel,
): string {
  const stated = customer.preferred_channel;
  if (stated === chosen) return `stated preference: ${chosen}`;
  if (stated) return `stated preference ${stated} unusable (no address, or no ${stated} message): ${chosen}`;
  if (learned?.channel === chosen) return learned.why;
  if (learned?.channel) return `${learned.why}, unusable (no address, or no ${learned.channel} message): ${chosen}`;
  return `email first, then sms: ${learned?.why ?? 'no preference'}`;
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

  async function sendOnce(request: SendRequest): Promise<SendOutcome> {
    const customer = await getCustomer(db, request.customerId);
    if (!customer) return { status: 'skipped', detail: 'customer not found' };
    // Written under the record that stays, should the journey's customer have merged into another; in
    // the customer's language as it is now, when the template has a variant in it.
    const req = {
      ...request,
      customerId: customer.id,
      ...(request.email ? { email: inLocale(request.email, customer.locale) } : {}),
      ...(request.sms ? { sms: inLocale(request.sms, customer.locale) } : {}),
    };
    // A retry keeps the channel an earlier attempt chose, whatever changed since.
    const earlier = await earlierSend(db, [`${req.keyBase}:email`, `${req.keyBase}:sms`]);
    // Learned only when it can decide: a `preferred` send to a customer who stated no preference.
    const learned =
      !earlier && req.channel === 'preferred' && !customer.preferred_channel
        ? await learnedChannel(db, customer.id, new Date(Math.max(Date.parse(req.at), Date.now())))
        : undefined;
    const choice = earlier
      ? earlier.channel
      : chooseChannel(req, { ...customer, learned_channel: learned?.channel ?? null });
    if (typeof choice !== 'string') {
      const sendKey = `${req.keyBase}:${req.channel}`;
      await writeTimeline(req, sendKey, `message skipped: ${choice.skip}`, { status: 'skipped', reason: choice.skip });
      return { status: 'skipped', sendKey, detail: choice.skip };
    }
    const channel = choice;
    const rule = earlier || req.channel !== 'preferred' ? undefined : channelRule(customer, learned, channel);
    const sendKey = `${req.keyBase}:${channel}`;
    const workflowId = activityInfo().workflowExecution?.workflowId ?? 'unknown';

    // A key with an outcome already (a retry, a replay) returns it: nothing is sent twice.
    const finished = earlier?.finished;
    if (finished) {
      const status = finished.state === 'sent' ? 'sent' : finished.state === 'skipped' ? 'skipped' : 'failed';
      return { status, channel, sendKey, detail: finished.error ?? finished.providerRef ?? finished.state };
    }

    // A provider call under way when the last attempt ended is settled before anything else.
    const inFlight = earlier?.inFlight;
    if (inFlight) {
      const resolved = await resolveInFlight(req, customer, channel, sendKey, inFlight);
      if (resolved !== 'send-again') return resolved;
      return deliver(req, customer, channel, sendKey, rule);
    }

    // The contact policy, at the time the journey sends, or now for a retry that comes later.
    const now = Math.max(Date.parse(req.at), Date.now());
    const topicId = req.category === 'marketing' && req.topic ? req.topic : undefined;
    const { consent, suppressed, topicSubscribed } = await contactState(
      db,
      customer.id,
      channel,
      channel === 'sms' ? customer.phone : customer.email,
      topicId,
    );
    const topic = topicId ? { id: topicId, subscribed: topicSubscribed } : undefined;
    const claimRow = {
      sendKey,
      customerId: customer.id,
      workflowId,
      stepId: req.stepId,
      channel,
      category: req.category,
      sendsAt: new Date(req.at),
    };
    // The cap is counted and the send claimed in one transaction that holds the customer's send lock,
    // so two sends at the same instant, in any process, cannot both pass a cap of one: the second
    // counts the first's claim.
    const { decision, claim } = await db.transaction().execute(async (trx) => {
      await lockCustomerSends(trx, customer.id);
      // The account's lock after the customer's, always in that order: two sends wait, never deadlock.
      const accountCap = policy.accountCap;
      const account = accountCap && req.category === 'marketing' ? customer.account_id : null;
      if (account) await lockAccountSends(trx, account);
      const decision = decide(
        {
          channel,
          category: req.category,
          now,
          timezone: customer.timezone,
          quietHours: req.sending?.quietHours,
          frequencyCap: req.sending?.frequencyCap,
          whenCapped: req.sending?.whenCapped,
          consent,
          topic,
          suppressed,
          recentSends: longestWindow > 0 ? await recentSends(trx, customer.id, new Date(now - longestWindow)) : [],
          accountSends:
            account && accountCap
              ? await recentAccountSends(trx, account, new Date(now - accountCap.windowMs))
              : undefined,
        },
        policy,
      );
      if ('allow' in decision) return { decision, claim: await claimSend(trx, claimRow) };
      if ('skip' in decision) {
        await claimSend(trx, claimRow);
        await recordOutcome(trx, sendKey, 'skipped', { error: decision.skip, category: req.category });
      }
      return { decision, claim: undefined };
    });
    if ('skip' in decision) {
      await writeTimeline(req, sendKey, `${channel} skipped: ${decision.skip}`, {
        status: 'skipped',
        channel,
        reason: decision.skip,
        ...(topic ? { topic: topic.id } : {}),
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
    if (!claim) throw new Error(`send ${sendKey}: allowed by the contact policy but not claimed`);

    if (claim.kind === 'done') {
      const status = claim.state === 'sent' ? 'sent' : claim.state === 'skipped' ? 'skipped' : 'failed';
      return { status, channel, sendKey, detail: claim.error ?? claim.providerRef ?? claim.state };
    }
    if (claim.kind === 'in_flight') {
      const resolved = await resolveInFlight(req, customer, channel, sendKey, claim.claimedAt);
      if (resolved !== 'send-again') return resolved;
    }
    return deliver(req, customer, channel, sendKey, rule);
  }

  /** What a message's templates can read. */
  async function templateVariables(req: SendRequest, customer: CustomerRow) {
    return messageVariables(req, await customerFacts(db, customer));
  }

  /**
   * Click tracking (on by default for marketing journeys, `sending.trackClicks`) and the open pixel
   * (`sending.trackOpens`): the email's parts as they go out. Needs the public URL and its signing
   * keys (those of unsubscribe links); without them, the parts as written.
   */
  function trackingOf(req: SendRequest, customerId: string, keyHash: string) {
    const links = deps.unsubscribe;
    if (!links) return { text: (text: string) => text, html: (html: string) => html };
    const clicks = req.sending?.trackClicks ?? req.category === 'marketing';
    const opens = req.sending?.trackOpens === true;
    const base = links.publicUrl.replace(/\/+$/, '');
    const track = (url: string) =>
      `${base}/l/${signLink(links.keys, { customerId, sendKeyHash: keyHash, kind: 'click', url })}`;
    return {
      text: (text: string) => (clicks ? trackTextLinks(text, base, track) : text),
      html: (html: string) => {
        const clicked = clicks ? trackHtmlLinks(html, base, track) : html;
        if (!opens) return clicked;
        return withOpenPixel(
          clicked,
          `${base}/o/${signLink(links.keys, { customerId, sendKeyHash: keyHash, kind: 'open' })}`,
        );
      },
    };
  }

  /**
   * The provider call and its outcome, for a key claimed by this attempt. `rule` says why a
   * `preferred` send went by this channel, kept with the message for explanations.
   */
  async function deliver(req: SendRequest, customer: CustomerRow, channel: Channel, sendKey: string, rule?: string) {
    const keyHash = sendKeyHash(sendKey);
    const unsubscribe =
      channel === 'email' && req.category === 'marketing' && deps.unsubscribe
        ? unsubscribeUrl(
            deps.unsubscribe.publicUrl,
            signUnsubscribe(deps.unsubscribe.keys, {
              customerId: customer.id,
              sendKeyHash: keyHash,
              ...(req.topic ? { topic: req.topic } : {}),
            }),
          )
        : undefined;
    const variables = {
      ...(await templateVariables(req, customer)),
      ...(unsubscribe ? { unsubscribeUrl: unsubscribe } : {}),
    };

    try {
      if (channel === 'email') {
        const content = req.email;
        if (!content) throw ApplicationFailure.nonRetryable(`step ${req.stepId} has no email content`, 'NoContent');
        const { headers, ...email } = await composeEmail(content, variables, {
          from: req.sending?.from ?? deps.mailFrom,
          replyTo: req.sending?.replyTo ?? deps.replyTo,
          unsubscribe,
          tracked: trackingOf(req, customer.id, keyHash),
        });
        const subject = email.subject;
        const messageId = messageIdFor(keyHash, domainOf(email.from));
        const limited = await sendingSlot('email', email.from, sendKey);
        if (limited) return limited;
        at('after-claim', sendKey);
        await markInFlight(db, sendKey);
        at('in-flight', sendKey);
        const result = await deps.mailer.send({
          to: customer.email!,
          ...email,
          messageId,
          ...(Object.keys(headers).length > 0 ? { headers } : {}),
        });
        at('after-send', sendKey);
        await recordSent(db, sendKey, {
          providerRef: result.response,
          sentAt: req.at,
          category: req.category,
        });
        at('after-record', sendKey);
        await writeTimeline(req, sendKey, `email sent: ${subject}`, {
          status: 'sent',
          channel,
          subject,
          messageId,
          ...(req.category === 'marketing' && req.topic ? { topic: req.topic } : {}),
          ...(content.template ? { template: content.template } : {}),
          ...(content.locale ? { locale: content.locale } : {}),
          ...(rule ? { channelRule: rule } : {}),
        });
        return { status: 'sent', channel, sendKey, detail: subject } satisfies SendOutcome;
      }
      const content = req.sms;
      if (!content) throw ApplicationFailure.nonRetryable(`step ${req.stepId} has no sms content`, 'NoContent');
      const text = await renderText(content.text, variables);
      const limited = await sendingSlot('sms', deps.sms.sender ?? '', sendKey);
      if (limited) return limited;
      await markInFlight(db, sendKey);
      const result = await deps.sms.send({ to: customer.phone!, text, key: keyHash });
      return await smsSent(req, sendKey, text, result.ref, content.template, rule, content.locale);
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      return failed(req, customer, channel, sendKey, err);
    }
  }

  /**
   * A token of the sender's sending limit, taken right before the provider call. Due within a
   * moment, the send waits for it here (the activity heartbeats meanwhile); later, the key is freed
   * and the activity asks to be retried when a token can be had (a delay of its own, not the backoff
   * of a provider's failure). Near the end of the attempts, the send is deferred instead: the
   * workflow waits and starts it again with its attempts anew, so a long queue never turns into
   * failures.
   */
  async function sendingSlot(channel: Channel, sender: string, sendKey: string): Promise<SendOutcome | undefined> {
    const take = await deps.sendRate?.take(channel, sender);
    if (!take) return undefined;
    if (take.granted) {
      if (take.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, take.waitMs));
      return undefined;
    }
    const attempt = attemptNumber();
    const delay = retryDelayMs(take.retryInMs, attempt);
    const reason = `sending limit of ${take.key} (${take.rate.text})`;
    await recordOutcome(db, sendKey, 'failed_retryable', { error: reason });
    if (attempt >= OUTBOUND_MAX_ATTEMPTS - 1) {
      return {
        status: 'deferred',
        channel,
        sendKey,
        until: new Date(Date.now() + delay).toISOString(),
        detail: reason,
      };
    }
    throw ApplicationFailure.create({
      message: `${reason}: sent in ${delay} ms`,
      type: 'SendRateLimited',
      nextRetryDelay: delay,
    });
  }

  async function smsSent(
    req: SendRequest,
    sendKey: string,
    text: string,
    ref: string,
    template?: string,
    rule?: string,
    locale?: string,
  ) {
    await recordSent(db, sendKey, { providerRef: ref, sentAt: req.at, category: req.category });
    const firstLine = text.split('\n')[0] ?? '';
    await writeTimeline(req, sendKey, `sms sent: ${firstLine}`, {
      status: 'sent',
      channel: 'sms',
      providerRef: ref,
      ...smsSegments(text),
      ...(req.category === 'marketing' && req.topic ? { topic: req.topic } : {}),
      ...(template ? { template } : {}),
      ...(locale ? { locale } : {}),
      ...(rule ? { channelRule: rule } : {}),
    });
    return { status: 'sent', channel: 'sms', sendKey, detail: firstLine } satisfies SendOutcome;
  }

  /** A provider failure: recorded for good, left for reconciliation, or retried with backoff. */
  async function failed(
    req: SendRequest,
    customer: CustomerRow,
    channel: Channel,
    sendKey: string,
    err: unknown,
  ): Promise<SendOutcome> {
    const e =
      err instanceof ChannelError
        ? err
        : new ChannelError(err instanceof Error ? err.message : String(err), 'retryable');
    const lastAttempt = attemptNumber() >= OUTBOUND_MAX_ATTEMPTS;
    if (e.kind === 'permanent' || (e.kind === 'retryable' && lastAttempt)) {
      const reason = e.kind === 'permanent' ? e.message : `gave up after ${attemptNumber()} attempts: ${e.message}`;
      await recordOutcome(db, sendKey, 'failed_permanent', { error: reason.slice(0, 1000) });
      if (e.suppress) {
        await suppress(db, customer.id, channel, e.suppress, e.message.slice(0, 300), req.at);
      }
      await writeTimeline(req, sendKey, `${channel} failed: ${reason}`, {
        status: 'failed',
        channel,
        reason,
        ...(e.code !== undefined ? { code: e.code } : {}),
      });
      return { status: 'failed', channel, sendKey, detail: reason };
    }
    if (e.kind === 'ambiguous' && (channel === 'email' || !deps.sms.find || lastAttempt)) {
      // The provider may have the message. Sending it again could deliver it twice: at most once.
      return unknownOutcome(req, channel, sendKey, e.message);
    }
    if (e.kind === 'retryable') {
      // Not accepted: free the key for the next attempt, which Temporal schedules with backoff.
      await recordOutcome(db, sendKey, 'failed_retryable', { error: e.message });
    }
    // Ambiguous with a provider that can tell: the key stays in flight, and the next attempt looks
    // the message up before it sends anything.
    throw ApplicationFailure.retryable(`${channel} send failed, will retry: ${e.message}`, 'SendFailed');
  }

  async function unknownOutcome(req: SendRequest, channel: Channel, sendKey: string, reason: string) {
    await recordOutcome(db, sendKey, 'unknown', { error: reason.slice(0, 1000) });
    await writeTimeline(req, sendKey, `${channel} outcome unknown`, { status: 'unknown', channel, reason });
    logger.warn({ sendKey: sendKeyHash(sendKey), channel }, 'send outcome unknown: not sent again');
    return { status: 'failed', channel, sendKey, detail: reason } satisfies SendOutcome;
  }

  /**
   * A key whose provider call was under way when its attempt ended (a crash, a timeout). An SMS is
   * looked up in Twilio's message list: found, it is recorded as sent; not found, it is sent again.
   * Anything else is recorded as unknown.
   */
  async function resolveInFlight(
    req: SendRequest,
    customer: CustomerRow,
    channel: Channel,
    sendKey: string,
    since: Date,
  ): Promise<SendOutcome | 'send-again'> {
    const content = req.sms;
    if (channel === 'sms' && deps.sms.find && content && customer.phone) {
      const text = await renderText(content.text, await templateVariables(req, customer));
      let ref: string | undefined;
      try {
        ref = await deps.sms.find({ to: customer.phone, text, since });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (attemptNumber() >= OUTBOUND_MAX_ATTEMPTS) return unknownOutcome(req, channel, sendKey, reason);
        throw ApplicationFailure.retryable(reason, 'SendFailed');
      }
      if (ref) {
        logger.info({ sendKey: sendKeyHash(sendKey), ref }, 'sms reconciled: the provider had it');
        return smsSent(req, sendKey, text, ref, content.template, undefined, content.locale);
      }
      logger.info({ sendKey: sendKeyHash(sendKey) }, 'sms reconciled: the provider does not have it, sending again');
      await reclaimSend(db, sendKey);
      return 'send-again';
    }
    const reason = 'outcome unknown: an earlier attempt stopped while the message was being handed over';
    return unknownOutcome(req, channel, sendKey, reason);
  }

  return { sendMessage };
}

function attemptNumber(): number {
  try {
    return activityInfo().attempt;
  } catch {
    return 1;
  }
}

/** What a message's templates can read: the customer's facts, the events and tasks so far, the journey. */
export function messageVariables(
  req: Pick<SendRequest, 'event' | 'events' | 'tasks' | 'journeyId' | 'version' | 'enrolledAt' | 'at'>,
  customer: CustomerFacts,
) {
  return {
    customer,
    event: req.event,
    events: req.events,
    tasks: req.tasks,
    journey: { id: req.journeyId, version: req.version, enrolledAt: req.enrolledAt },
    now: req.at,
  };
}

/** What an email carries besides its content: who it is from, its unsubscribe link, how its links are tracked. */
interface EmailEnvelope {
  from: string;
  replyTo?: string | undefined;
  /** The one-click unsubscribe link of a marketing email. */
  unsubscribe?: string | undefined;
  tracked: { text: (text: string) => string; html: (html: string) => string };
}

/** An email as it goes out, but for its recipient and Message-ID. */
export interface ComposedEmail {
  from: string;
  replyTo?: string;
  subject: string;
  text: string;
  html: string;
  /** List-Unsubscribe and List-Unsubscribe-Post for a marketing email; none otherwise. */
  headers: Record<string, string>;
}

/**
 * An email's parts rendered for a customer, with the unsubscribe footer and headers of a marketing
 * email and its links tracked: the one way an email is made, for a send and for its preview alike.
 */
export async function composeEmail(
  content: EmailContent,
  variables: Record<string, unknown>,
  envelope: EmailEnvelope,
): Promise<ComposedEmail> {
  const { unsubscribe, tracked, from, replyTo } = envelope;
  const [subject, text, html] = await Promise.all([
    renderText(content.subject, variables),
    renderText(content.text, variables),
    content.html ? renderHtml(content.html, variables) : Promise.resolve(undefined),
  ]);
  // Every email has both parts: without an HTML template, the text is the HTML.
  const htmlPart = html ?? textToHtml(text);
  const footer = unsubscribe && !(content.html ?? content.text).includes('unsubscribeUrl');
  return {
    from,
    ...(replyTo ? { replyTo } : {}),
    subject,
    text: tracked.text(
      unsubscribe && !content.text.includes('unsubscribeUrl') ? withTextFooter(text, unsubscribe) : text,
    ),
    html: tracked.html(footer && unsubscribe ? withHtmlFooter(htmlPart, unsubscribe) : htmlPart),
    headers: unsubscribe
      ? { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' }
      : {},
  };
}

const footerNote = 'You receive this email because you signed up for news from us.';

function withTextFooter(text: string, url: string): string {
  return `${text.replace(/\s+$/, '')}\n\n--\n${footerNote}\nUnsubscribe: ${url}\n`;
}

function withHtmlFooter(html: string, url: string): string {
  const footer = `<p style="font-size:12px;color:#666">${footerNote} <a href="${url}">Unsubscribe</a></p>`;
  return /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${footer}</body>`) : `${html}${footer}`;
}

/** How long a send the provider took waits for the database to record it. */
const RECORD_SENT_PATIENCE_MS = 60_000;

/**
 * Records a send the provider took. Only this process knows it went out: if the database is away for
 * a moment (a restart, a failover), the record is tried again, for up to a minute (the activity
 * heartbeats meanwhile), rather than failing and leaving the send ambiguous for its retry.
 */
async function recordSent(db: Db, sendKey: string, details: Parameters<typeof recordOutcome>[3]): Promise<void> {
  let waited = 0;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await recordOutcome(db, sendKey, 'sent', details);
    } catch (err) {
      if (!isDatabaseUnavailable(err) || waited >= RECORD_SENT_PATIENCE_MS) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
      waited += delay;
    }
  }
}

function heartbeatIfActive(): void {
  try {
    heartbeat();
  } catch {
    // Not inside an activity (a direct call in a test).
  }
}
