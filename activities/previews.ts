/**
 * Previews and test sends of a journey's send step: the message as one customer would get it, made
 * by the same code as a real send (the step's content, the template variables, composeEmail), from
 * the published plan.
 *
 * Neither touches any customer's record. A preview only reads. A test send goes to the address it
 * is given, straight to the mailer or the SMS sender: it claims nothing in the send ledger, writes
 * nothing on a timeline, and so counts toward no frequency cap. Its links cannot act for the
 * customer either: they are left as written (no click or open tracking) and its unsubscribe link is
 * an inert one that the unsubscribe page refuses.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { CustomerFacts } from '../definitions/facts';
import type { JourneyPlan } from '../definitions/schema/journey';
import type { SendStep } from '../definitions/steps/send';
import { walk } from '../definitions/steps';
import type { Step } from '../definitions/schema/journey';
import { triggerEventType } from '../definitions/triggers';
import { emailContent, inLocale, smsContent } from '../definitions/steps/send-content';
import type { Db } from './db/database';
import type { Channel } from './db/schema';
import type { EmailContent, SmsContent } from './channels/content';
import type { Mailer } from './channels/email';
import { smsSegments, type SmsSender } from './channels/sms';
import { unsubscribeUrl } from './channels/unsubscribe';
import { chooseChannel, composeEmail, type ComposedEmail, domainOf, messageVariables } from './messaging';
import { renderText } from './render';
import { findCustomer, type CustomerRef } from './store/customers';
import { learnedChannel } from './store/engagement';
import { customerFacts } from './store/facts';
import { journeyVersions, versionPlan } from './store/versions';
import type { SendLimiter } from './send-rate';

/** A made-up customer's facts; what is left out takes the value a new customer has. */
export const inlineFacts = z
  .object({
    id: z.string().min(1).optional(),
    email: z.string().nullable().optional(),
    phone: z.string().nullable().optional(),
    firstName: z.string().nullable().optional(),
    lastName: z.string().nullable().optional(),
    timezone: z.string().optional(),
    locale: z.string().optional(),
    lifecycleStage: z.string().optional(),
    tags: z.array(z.string()).optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    consent: z.record(z.string(), z.record(z.string(), z.boolean())).optional(),
    preferredChannel: z.enum(['email', 'sms']).nullable().optional(),
    metrics: z
      .object({
        orderCount: z.number().int().min(0),
        lifetimeValue: z.number(),
        firstOrderAt: z.string().nullable(),
        lastOrderAt: z.string().nullable(),
        categories: z.array(z.string()),
        recommendedCategory: z.string().nullable(),
      })
      .partial()
      .strict()
      .optional(),
    score: z.number().optional(),
    account: z.object({ id: z.string(), name: z.string().nullable() }).strict().nullable().optional(),
  })
  .strict();

type InlineFacts = z.infer<typeof inlineFacts>;

/** The customer of a preview: a live one, whose facts are read, or made-up facts. */
export type PreviewCustomer = { ref: CustomerRef } | { facts: InlineFacts };

export interface PreviewRequest {
  journeyId: string;
  stepId: string;
  /** Default: the newest published version. */
  version?: number | undefined;
  customer: PreviewCustomer;
  /** The data of the event that enrolled the customer (`event.data` in templates); default none. */
  eventData?: Record<string, unknown> | undefined;
}

export interface MessagePreview {
  journey: string;
  version: number;
  step: string;
  /** The live customer's id, or null for made-up facts. */
  customerId: string | null;
  channel: Channel;
  /** Why this channel: the step's own, or the one a preferred-channel step would pick for this customer. */
  why: string;
  /** Why a real send would not reach this customer (no address for the channel), when it would not. */
  unreachable?: string;
  /** The locale of the template's variant shown, when the customer's locale picked one. */
  locale?: string;
  email?: ComposedEmail & {
    /** Whether a real send tracks its links and opens; a preview shows the links as written. */
    tracking: { clicks: boolean; opens: boolean };
  };
  sms?: { text: string; characters: number; encoding: 'GSM-7' | 'UCS-2'; segments: number };
}

export interface TestSend {
  channel: Channel;
  to: string;
  /** The provider's answer: the SMTP reply, or the SMS's id. */
  providerRef: string;
  /** The message as sent, marked as a test. */
  preview: MessagePreview;
}

/** A request that cannot be served: `status` is the HTTP status it maps to. */
export class PreviewError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 422 | 429,
    /** For 429: in how many seconds to try again. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface PreviewDeps {
  db: Db;
  mailer: Mailer;
  sms: SmsSender;
  mailFrom: string;
  replyTo?: string | undefined;
  /** Rapport's public address, where unsubscribe and tracked links point. */
  publicUrl: string;
  /** The sending limits, which test sends respect as every send does. */
  sendRate?: SendLimiter | undefined;
}

/** What a new customer's record holds, for made-up facts. */
function factsWithDefaults(f: InlineFacts): CustomerFacts {
  return {
    id: f.id ?? 'preview',
    email: f.email ?? null,
    phone: f.phone ?? null,
    firstName: f.firstName ?? null,
    lastName: f.lastName ?? null,
    timezone: f.timezone ?? 'UTC',
    locale: f.locale ?? 'en',
    lifecycleStage: f.lifecycleStage ?? 'prospect',
    tags: f.tags ?? [],
    attributes: f.attributes ?? {},
    consent: f.consent ?? {},
    preferredChannel: f.preferredChannel ?? null,
    metrics: {
      orderCount: f.metrics?.orderCount ?? 0,
      lifetimeValue: f.metrics?.lifetimeValue ?? 0,
      firstOrderAt: f.metrics?.firstOrderAt ?? null,
      lastOrderAt: f.metrics?.lastOrderAt ?? null,
      categories: f.metrics?.categories ?? [],
      recommendedCategory: f.metrics?.recommendedCategory ?? null,
    },
    score: f.score ?? 0,
    account: f.account ?? null,
  };
}

const addressOf = (c: Channel) => (c === 'email' ? 'email address' : 'phone number');

/** Which channel a step would use for this customer and why; for an unreachable customer, the first the step has. */
function channelFor(
  step: SendStep,
  content: { email?: EmailContent | undefined; sms?: SmsContent | undefined },
  customer: CustomerFacts,
  /** The channel learned from a live customer's engagement, read when they stated no preference. */
  learned?: { channel: Channel | null; why: string },
): { channel: Channel; why: string; unreachable?: string } {
  const preferred: Channel | null =
    customer.preferredChannel === 'sms' || customer.preferredChannel === 'email' ? customer.preferredChannel : null;
  const contact = {
    email: customer.email,
    phone: customer.phone,
    preferred_channel: preferred,
    learned_channel: learned?.channel ?? null,
  };
  const chosen = chooseChannel(
    {
      channel: step.channel,
      ...(content.email ? { email: content.email } : {}),
      ...(content.sms ? { sms: content.sms } : {}),
    },
    contact,
  );
  if (step.channel !== 'preferred') {
    return {
      channel: step.channel,
      why: `the step sends ${step.channel}`,
      ...(typeof chosen === 'string' ? {} : { unreachable: chosen.skip }),
    };
  }
  if (typeof chosen !== 'string') {
    const first: Channel = content.email ? 'email' : 'sms';
    return {
      channel: first,
      why: `the step sends on the preferred channel; showing ${first}`,
      unreachable: chosen.skip,
    };
  }
  const reach = (c: Channel) => Boolean(c === 'email' ? contact.email : contact.phone);
  let why: string;
  if (preferred === chosen) why = `the customer's preferred channel is ${chosen}`;
  else if (preferred) {
    const lacking = !reach(preferred)
      ? `the customer has no ${addressOf(preferred)}`
      : `the step has no ${preferred} message`;
    why = `the customer prefers ${preferred}, but ${lacking}`;
  } else if (learned?.channel === chosen) why = `the customer stated no preference; ${learned.why}`;
  else if (chosen === 'email') why = 'the customer has no preferred channel, and email comes first';
  else {
    const lacking = !reach('email') ? `the customer has no ${addressOf('email')}` : 'the step has no email message';
    why = `the customer has no preferred channel and ${lacking}`;
  }
  return { channel: chosen, why };
}

export function createPreviews(deps: PreviewDeps) {
  const { db } = deps;
  const base = deps.publicUrl.replace(/\/+$/, '');

  async function planOf(
    journeyId: string,
    version: number | undefined,
  ): Promise<{ plan: JourneyPlan; version: number }> {
    const versions = await journeyVersions(db, journeyId);
    if (versions.length === 0) throw new PreviewError(`no published journey ${journeyId}`, 404);
    const v = version ?? Math.max(...versions.map((x) => x.version));
    const plan = await versionPlan(db, journeyId, v);
    if (!plan) throw new PreviewError(`journey ${journeyId} has no version ${v}`, 404);
    return { plan, version: v };
  }

  function sendStepOf(plan: JourneyPlan, journeyId: string, version: number, stepId: string): SendStep {
    const steps: Step[] = [];
    walk(plan.definition.steps, ['steps'], (s) => steps.push(s));
    const found = steps.find((s) => s.id === stepId);
    if (!found) {
      throw new PreviewError(
        `journey ${journeyId} version ${version} has no step ${stepId}; its steps: ${steps.map((s) => s.id).join(', ')}`,
        404,
      );
    }
    if (found.type !== 'send') {
      throw new PreviewError(
        `step ${stepId} is a ${found.type} step, not a send: only a send step has a message to preview`,
        422,
      );
    }
    return found;
  }

  async function factsOf(customer: PreviewCustomer): Promise<{ facts: CustomerFacts; id: string | null }> {
    if ('facts' in customer) return { facts: factsWithDefaults(customer.facts), id: null };
    const row = await findCustomer(db, customer.ref);
    if (!row) {
      const named = customer.ref.id ?? customer.ref.email ?? customer.ref.phone ?? customer.ref.externalId?.id;
      throw new PreviewError(`no customer ${named ?? ''}`.trim(), 404);
    }
    return { facts: await customerFacts(db, row), id: row.id };
  }

  /**
   * The message of a step for a customer. `channel`, when given, is the one to show (a test send to
   * an address of that kind); otherwise the one the customer would get.
   */
  async function render(req: PreviewRequest, channel?: Channel): Promise<MessagePreview> {
    const { plan, version } = await planOf(req.journeyId, req.version);
    const step = sendStepOf(plan, req.journeyId, version, req.stepId);
    const { facts, id } = await factsOf(req.customer);
    // In the customer's language, as a send picks it.
    const emailIn = emailContent(step, plan.templates);
    const smsIn = smsContent(step, plan.templates);
    const email = emailIn && inLocale(emailIn, facts.locale);
    const sms = smsIn && inLocale(smsIn, facts.locale);
    // As a send does: a live customer who stated no preference gets the channel learned from them.
    const learned =
      id && step.channel === 'preferred' && !facts.preferredChannel ? await learnedChannel(db, id) : undefined;
    const choice = channelFor(step, { email, sms }, facts, learned);
    if (channel && channel !== choice.channel) {
      if (!(channel === 'email' ? email : sms)) {
        throw new PreviewError(
          `step ${req.stepId} sends no ${channel}: give ${choice.channel === 'email' ? 'an email address' : 'a phone number'}`,
          422,
        );
      }
      choice.channel = channel;
      choice.why = `a test send to ${channel === 'email' ? 'an email address' : 'a phone number'}`;
    }
    const def = plan.definition;
    const now = new Date().toISOString();
    const marketingEmail = choice.channel === 'email' && def.category === 'marketing';
    // A link of the unsubscribe page's shape whose token it refuses: a preview must not be able to
    // unsubscribe the customer.
    const unsubscribe = marketingEmail ? unsubscribeUrl(base, 'preview') : undefined;
    const variables = {
      ...messageVariables(
        {
          event: { id: 'preview', type: triggerEventType(def), occurredAt: now, data: req.eventData ?? {} },
          events: {},
          tasks: {},
          journeyId: req.journeyId,
          version,
          enrolledAt: now,
          at: now,
        },
        facts,
      ),
      ...(unsubscribe ? { unsubscribeUrl: unsubscribe } : {}),
    };
    const shown = choice.channel === 'email' ? email : sms;
    const head = {
      journey: req.journeyId,
      version,
      step: req.stepId,
      customerId: id,
      ...choice,
      ...(shown?.locale ? { locale: shown.locale } : {}),
    };
    if (choice.channel === 'email') {
      if (!email) throw new PreviewError(`step ${req.stepId} has no email message`, 422);
      const composed = await composeEmail(email, variables, {
        from: def.sending?.from ?? deps.mailFrom,
        replyTo: def.sending?.replyTo ?? deps.replyTo,
        unsubscribe,
        tracked: { text: (t) => t, html: (h) => h },
      });
      const tracking = {
        clicks: def.sending?.trackClicks ?? def.category === 'marketing',
        opens: def.sending?.trackOpens === true,
      };
      return { ...head, email: { ...composed, tracking } };
    }
    if (!sms) throw new PreviewError(`step ${req.stepId} has no sms message`, 422);
    return { ...head, sms: smsPreview(await renderText(sms.text, variables)) };
  }

  /** Sends the step's message for real to `to`, marked as a test, recording nothing about the customer. */
  async function sendTest(req: PreviewRequest & { to: string }): Promise<TestSend> {
    const to = req.to.trim();
    const channel: Channel | undefined = /^\+[1-9]\d{6,14}$/.test(to)
      ? 'sms'
      : /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(to)
        ? 'email'
        : undefined;
    if (!channel) {
      throw new PreviewError(
        `to: expected an email address or a phone number in E.164 form (+15551234567), not "${to}"`,
        422,
      );
    }
    const preview = await render(req, channel);
    const marker = randomBytes(16).toString('hex');
    await sendingSlot(channel, channel === 'email' ? preview.email!.from : (deps.sms.sender ?? ''));
    if (preview.email) {
      const { headers, tracking, ...email } = preview.email;
      const marked = { ...email, subject: `[TEST] ${email.subject}`, headers: { ...headers, 'X-Rapport-Test': '1' } };
      const result = await deps.mailer.send({
        to,
        ...marked,
        messageId: `<test-${marker}@${domainOf(email.from)}>`,
      });
      return { channel, to, providerRef: result.response, preview: { ...preview, email: { ...marked, tracking } } };
    }
    const text = `[TEST] ${preview.sms!.text}`;
    const result = await deps.sms.send({ to, text, key: `test-${marker}` });
    return { channel, to, providerRef: result.ref, preview: { ...preview, sms: smsPreview(text) } };
  }

  /**
   * A token of the sender's sending limit. A test send waits for one due soon, as a send does; when
   * a campaign holds the sender, it is refused with the time to try again rather than left hanging.
   */
  async function sendingSlot(channel: Channel, sender: string): Promise<void> {
    const take = await deps.sendRate?.take(channel, sender);
    if (!take) return;
    if (!take.granted) {
      const seconds = Math.ceil(take.retryInMs / 1000);
      throw new PreviewError(
        `the sending limit of ${take.key} (${take.rate.text}) is used up: try again in ${seconds} s`,
        429,
        seconds,
      );
    }
    if (take.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, take.waitMs));
  }

  return { preview: (req: PreviewRequest) => render(req), sendTest };
}

export type Previews = ReturnType<typeof createPreviews>;

function smsPreview(text: string): NonNullable<MessagePreview['sms']> {
  return { text, characters: [...text].length, ...smsSegments(text) };
}
