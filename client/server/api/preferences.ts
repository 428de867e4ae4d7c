/**
 * The preference page an email's unsubscribe link opens (`/u/<token>`), and the one-click
 * unsubscribe of RFC 8058 at the same address. The signed token is what authorizes: it names the
 * customer and the message, so the page needs no login, and its form posts back to the same URL.
 *
 * - GET shows the page and changes nothing, since link scanners open links: a box per known topic
 *   (ticked while the customer gets it), a save button, and a button that leaves all marketing email.
 *   Plain HTML, no script, in the customer's language, never showing their address.
 * - POST from the page saves the boxes, or leaves everything.
 * - Any other POST is one click (a mailbox provider's `List-Unsubscribe=One-Click`, in any form):
 *   it leaves the topic of the message that carried the link, or all marketing email for a message
 *   of no topic and for links made before topics.
 *
 * Every choice is kept with its evidence and written on the customer's timeline.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Db } from '../../../activities/db/database';
import {
  type UnsubscribePayload,
  type UnsubscribeKeys,
  verifyUnsubscribe,
} from '../../../activities/channels/unsubscribe';
import { consentFor, recordConsent } from '../../../activities/store/consent';
import { getCustomer } from '../../../activities/store/customers';
import { recordMessageOutcome } from '../../../activities/store/journey-stats';
import { sendKeyByHash } from '../../../activities/store/ledger';
import { recordTopicChoices, topicChoices } from '../../../activities/store/topics';
import { loadTexts, type TextSet } from '../../../activities/texts';
import { knownTopics, topicTexts } from '../../../activities/topics';
import { builtinTextsDir } from '../../../paths';
import { pickLocale } from '../../../definitions/locale';

const tokenParam = z.object({ token: z.string().min(10).max(4000) });

/** The page's form: the ticked topics, and which button was pressed. */
const pageForm = z.object({
  page: z.literal('preferences'),
  action: z.enum(['save', 'leave']).optional(),
  topic: z.union([z.string(), z.array(z.string())]).optional(),
});

export interface PreferenceSettings {
  unsubscribeKeys?: UnsubscribeKeys | undefined;
  /** A deployment's folder of texts, whose files reword or add to the built-in ones key by key. */
  textsDir?: string | undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A text with `{name}` placeholders filled, escaped for HTML. */
function say(texts: TextSet, key: string, values: Record<string, string> = {}): string {
  const text = (texts[key] ?? key).replace(/\{(\w+)\}/g, (m, name: string) => values[name] ?? m);
  return escapeHtml(text);
}

function page(reply: FastifyReply, status: number, lang: string, title: string, body: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('Cache-Control', 'no-store')
    .header('Referrer-Policy', 'no-referrer')
    .header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    .send(
      `<!doctype html><html lang="${escapeHtml(lang)}"><head><meta charset="utf-8">` +
        `<meta name="viewport" content="width=device-width"><meta name="robots" content="noindex">` +
        `<title>${title}</title>` +
        `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}` +
        `fieldset{border:0;padding:0;margin:1rem 0}label{display:block;margin:.4rem 0}` +
        `button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #444;background:#222;color:#fff;cursor:pointer;margin:.4rem .4rem 0 0}` +
        `button.quiet{background:#fff;color:#222}</style>` +
        `</head><body><h1>${title}</h1>${body}</body></html>`,
    );
}

export function registerPreferenceRoutes(
  app: FastifyInstance,
  db: Db,
  settings: PreferenceSettings,
  logger: Logger,
): void {
  const log = logger.child({ component: 'preferences' });
  const pageTexts = loadTexts('preferences', builtinTextsDir, ...(settings.textsDir ? [settings.textsDir] : []));
  const topicNames = topicTexts(settings.textsDir);
  const known = [...knownTopics(topicNames)];
  /** The language a page is in: the customer's, when a variant of the page's texts reaches it. */
  const langOf = (locale: string | undefined | null) => pickLocale(pageTexts.locales(), locale) ?? 'en';

  const refused = (reply: FastifyReply, reason: string, ip: string) => {
    log.warn({ reason, ip }, 'unsubscribe link refused');
    const t = pageTexts.for(undefined);
    return page(reply, 400, 'en', say(t, 'invalidTitle'), `<p>${say(t, 'invalid')}</p>`);
  };

  /** The payload of the link's token, or undefined once the refusal is sent. */
  const verifiedToken = (req: FastifyRequest, reply: FastifyReply): UnsubscribePayload | undefined => {
    const keys = settings.unsubscribeKeys;
    const params = tokenParam.safeParse(req.params);
    if (!keys || !params.success) {
      void refused(reply, 'malformed token', req.ip);
      return undefined;
    }
    const verified = verifyUnsubscribe(keys, params.data.token);
    if (!verified.ok) {
      void refused(reply, verified.reason, req.ip);
      return undefined;
    }
    return verified.payload;
  };

  // A link scanner may open the link: the page changes nothing, its buttons do.
  app.get('/u/:token', async (req, reply) => {
    const token = verifiedToken(req, reply);
    if (!token) return reply;
    const customer = await getCustomer(db, token.c);
    const t = pageTexts.for(customer?.locale);
    const names = topicNames.for(customer?.locale);
    const marketing = customer ? (await consentFor(db, customer.id, 'email')).marketing : undefined;
    const chosen = customer ? ((await topicChoices(db, customer.id)).email ?? {}) : {};
    // The message's own topic has a box even when it is no longer among the known ones.
    const topics = token.t && !known.includes(token.t) ? [...known, token.t] : known;
    const leftAll = marketing === false;
    const boxes = topics
      .map((id) => {
        const checked = !leftAll && chosen[id] !== false;
        return (
          `<label><input type="checkbox" name="topic" value="${escapeHtml(id)}"${checked ? ' checked' : ''}> ` +
          `${escapeHtml(names[id] ?? id)}</label>`
        );
      })
      .join('');
    return page(
      reply,
      200,
      langOf(customer?.locale),
      say(t, 'title'),
      `<p>${say(t, 'intro')}</p>` +
        (leftAll ? `<p><strong>${say(t, 'noneNow')}</strong></p>` : '') +
        `<form method="post"><input type="hidden" name="page" value="preferences">` +
        (topics.length > 0 ? `<fieldset><legend>${say(t, 'topics')}</legend>${boxes}</fieldset>` : '') +
        `<button type="submit" name="action" value="save">${say(t, 'save')}</button>` +
        `<button type="submit" name="action" value="leave" class="quiet">${say(t, 'leaveAll')}</button>` +
        `</form>`,
    );
  });

  app.post('/u/:token', async (req, reply) => {
    const token = verifiedToken(req, reply);
    if (!token) return reply;
    const customer = await getCustomer(db, token.c);
    const t = pageTexts.for(customer?.locale);
    const lang = langOf(customer?.locale);
    const form = pageForm.safeParse(req.body);
    const at = new Date();
    const details = { send: token.s, kid: token.kid, ...(token.t ? { topic: token.t } : {}) };
    const changeLink = `<p><a href="">${say(t, 'change')}</a></p>`;

    // Counted against the journey step whose message carried the link.
    const countUnsubscribe = async (customerId: string) => {
      const sendKey = await sendKeyByHash(db, customerId, token.s);
      if (sendKey) await recordMessageOutcome(db, sendKey, { kind: 'unsubscribe' }, at);
    };
    const leaveAll = async (method: string) => {
      if (!customer) return;
      await recordConsent(
        db,
        customer.id,
        { email: { marketing: false } },
        { method, source: 'unsubscribe', at, details },
      );
      await countUnsubscribe(customer.id);
      log.info({ customerId: customer.id, method }, 'unsubscribed from marketing email');
    };

    if (form.success && form.data.action !== 'leave') {
      // The page's boxes: each known topic is chosen or left as ticked.
      const ticked = new Set([form.data.topic ?? []].flat());
      const topics = token.t && !known.includes(token.t) ? [...known, token.t] : known;
      if (customer) {
        const evidence = { method: 'preference page', source: 'unsubscribe', at, details };
        const changes = await recordTopicChoices(
          db,
          customer.id,
          { email: Object.fromEntries(topics.map((id) => [id, ticked.has(id)])) },
          evidence,
        );
        // Ticking a topic after leaving everything is asking for marketing email again.
        const marketing = (await consentFor(db, customer.id, 'email')).marketing;
        if (marketing === false && topics.some((id) => ticked.has(id))) {
          await recordConsent(db, customer.id, { email: { marketing: true } }, evidence);
        }
        if (changes.some((c) => !c.subscribed)) await countUnsubscribe(customer.id);
        log.info({ customerId: customer.id, changes: changes.length }, 'email preferences saved');
      }
      return page(reply, 200, lang, say(t, 'savedTitle'), `<p>${say(t, 'saved')}</p>${changeLink}`);
    }
    if (form.success) {
      await leaveAll('preference page');
      return page(reply, 200, lang, say(t, 'leftAllTitle'), `<p>${say(t, 'leftAll')}</p>${changeLink}`);
    }

    // One click, in whatever form the mailbox provider posts it: the message's topic, else everything.
    const body = req.body;
    const oneClick =
      typeof body === 'string'
        ? /List-Unsubscribe"?\s*(=|\r?\n\r?\n)\s*One-Click/.test(body)
        : (body as Record<string, unknown> | undefined)?.['List-Unsubscribe'] === 'One-Click';
    const method = oneClick ? 'one-click' : 'unsubscribe link';
    if (!token.t) {
      await leaveAll(method);
      return page(reply, 200, lang, say(t, 'leftAllTitle'), `<p>${say(t, 'leftAll')}</p>${changeLink}`);
    }
    if (customer) {
      await recordTopicChoices(
        db,
        customer.id,
        { email: { [token.t]: false } },
        { method, source: 'unsubscribe', at, details },
      );
      await countUnsubscribe(customer.id);
      log.info({ customerId: customer.id, topic: token.t, method }, 'left an email topic');
    }
    const name = topicNames.for(customer?.locale)[token.t] ?? token.t;
    return page(
      reply,
      200,
      lang,
      say(t, 'leftTopicTitle'),
      `<p>${say(t, 'leftTopic', { topic: name })}</p>${changeLink}`,
    );
  });
}
