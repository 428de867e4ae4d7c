/**
 * The message a send step says for each channel, as Liquid source: its own block (`email:`,
 * `sms:`), the step's fields, or a template of the published plan. The journey's send and a preview
 * of that step both take it from here, so a preview shows what the step would send.
 *
 * A template may have locale variants, published beside it as `<channel>:<name>@<locale>`
 * (`email:welcome@fr`). The content carries them all, because the customer's locale is read when the
 * message goes out, not when the journey reaches the step; `inLocale` then picks the variant.
 */
import type { SendStep } from './send';
import type { EmailTemplate, JourneyPlan, SmsTemplate } from '../schema/journey';
import type { EmailContent, SmsContent } from '../../activities/channels/content';
import { pickLocale } from '../locale';

/** The locale variants of `<channel>:<name>` in the plan, by locale. */
function variantsOf<T>(templates: JourneyPlan['templates'], channel: 'email' | 'sms', name: string) {
  const prefix = `${channel}:${name}@`;
  const found: Record<string, T> = {};
  for (const [key, template] of Object.entries(templates)) {
    if (key.startsWith(prefix)) found[key.slice(prefix.length)] = template as T;
  }
  return Object.keys(found).length > 0 ? { variants: found } : {};
}

export function emailContent(step: SendStep, templates: JourneyPlan['templates']): EmailContent | undefined {
  const block =
    step.email ?? (step.channel === 'email' ? step : step.template ? { template: step.template } : undefined);
  if (!block) return undefined;
  if (block.template) {
    const t = templates[`email:${block.template}`] as EmailTemplate | undefined;
    return t
      ? { template: block.template, ...t, ...variantsOf<EmailTemplate>(templates, 'email', block.template) }
      : undefined;
  }
  if (!block.subject || !block.text) return undefined;
  return { subject: block.subject, text: block.text, ...(block.html ? { html: block.html } : {}) };
}

export function smsContent(step: SendStep, templates: JourneyPlan['templates']): SmsContent | undefined {
  const block = step.sms ?? (step.channel === 'sms' ? step : step.template ? { template: step.template } : undefined);
  if (!block) return undefined;
  if (block.template) {
    const t = templates[`sms:${block.template}`] as SmsTemplate | undefined;
    return t
      ? { template: block.template, ...t, ...variantsOf<SmsTemplate>(templates, 'sms', block.template) }
      : undefined;
  }
  return block.text ? { text: block.text } : undefined;
}

/**
 * The content for a customer of `locale`: the variant its chain reaches first (`fr-CA`, then `fr`),
 * else the default, with `locale` naming the variant taken. Content without variants is as it was.
 */
export function inLocale<C extends EmailContent | SmsContent>(content: C, locale: string | null | undefined): C {
  const { variants, ...rest } = content;
  if (!variants) return content;
  const chosen = pickLocale(Object.keys(variants), locale);
  if (chosen === undefined) return rest as C;
  // The variant's fields replace the default's whole: a variant without html sends no html.
  return { ...(content.template ? { template: content.template } : {}), ...variants[chosen], locale: chosen } as C;
}
