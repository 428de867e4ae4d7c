import { z } from 'zod';
import { liquidText, stepId, templateName } from '../schema/common';
import { normalLocale } from '../locale';
import { parseTemplateFile } from '../templates';
import type { EmailTemplate, SmsTemplate } from '../schema/journey';
import { topicId } from '../topics';
import type { CheckContext, PathSeg, StepSpec, Written } from './spec';
import { mapping, noArms, noEvents, noExpressions, text } from './spec';

const emailContent = z
  .object({
    template: templateName.optional(),
    subject: liquidText.optional(),
    text: liquidText.optional(),
    html: liquidText.optional(),
  })
  .strict()
  .describe('An email: a template, or a subject and a text (and optional html).');

const smsContent = z
  .object({ template: templateName.optional(), text: liquidText.optional() })
  .strict()
  .describe('An SMS: a template or a text.');

export const sendStep = z
  .object({
    id: stepId,
    type: z.literal('send'),
    channel: z.enum(['email', 'sms', 'preferred']),
    template: templateName.optional(),
    subject: liquidText.optional(),
    text: liquidText.optional(),
    html: liquidText.optional(),
    email: emailContent.optional(),
    sms: smsContent.optional(),
    topic: topicId
      .optional()
      .describe("This message's subscription topic, instead of the journey's (marketing journeys only)"),
  })
  .strict()
  .describe('Sends one message after the consent, quiet-hours and frequency-cap checks.');

export type SendStep = z.infer<typeof sendStep>;

const MESSAGE_FIELDS = ['subject', 'text', 'html'];

/**
 * The message a send step says, for each channel it may go on: its own block (`email:`, `sms:`), the
 * step's fields, or a template file. Each must name a template that exists or hold the fields the
 * channel needs; templates found are kept for the compiled journey and their texts checked.
 */
function checkContent(step: Written, path: PathSeg[], context: CheckContext): void {
  const block = (key: 'email' | 'sms'): Written | undefined =>
    step[key] && typeof step[key] === 'object' ? mapping(step[key]) : undefined;
  const needs: { channel: 'email' | 'sms'; content: Written; at: PathSeg[] }[] = [];
  const channel = step.channel;
  if (channel === 'email' || channel === 'sms') {
    const own = block(channel);
    needs.push({ channel, content: own ?? step, at: own ? [...path, channel] : path });
  } else if (channel === 'preferred') {
    for (const c of ['email', 'sms'] as const) {
      const own = block(c);
      if (own) needs.push({ channel: c, content: own, at: [...path, c] });
      else if (text(step.template)) needs.push({ channel: c, content: { template: step.template }, at: path });
      else
        context.problem(
          path,
          `a send on the preferred channel needs an "${c}:" block (or a template with both an email and an sms file)`,
        );
    }
  } else return; // the schema reports a bad channel

  for (const need of needs) {
    const name = text(need.content.template);
    if (name) {
      checkTemplate(name, need.channel, [...need.at, 'template'], path, context);
    } else if (need.channel === 'email') {
      if (!text(need.content.subject) || !text(need.content.text)) {
        context.problem(need.at, 'an email needs a template, or a subject and a text');
      }
    } else if (!text(need.content.text)) {
      context.problem(need.at, 'an sms needs a template or a text');
    }
  }
}

/**
 * A template a send names, with its locale variants (`welcome.email.fr.yaml`): each parses and reads
 * only known variables, and is kept for the published plan. A variant that leaves out a variable its
 * default reads is likely a translation that forgot it (the customer's name, a link): a warning, since
 * a translation may drop one on purpose.
 */
function checkTemplate(
  name: string,
  channel: 'email' | 'sms',
  at: PathSeg[],
  stepPath: PathSeg[],
  context: CheckContext,
): void {
  const file = (locale?: string) => `${name}.${channel}${locale ? `.${locale}` : ''}.yaml`;
  const locales = context.templateLocales(name, channel);
  const source = context.readTemplate(name, channel);
  if (source === undefined) {
    if (locales.length > 0) {
      for (const locale of locales) context.problem(at, `${file(locale)} has no default ${file()}`);
    } else context.problem(at, `unknown template "${name}": no definitions/templates/${file()}`);
    return;
  }
  const parse = (text: string, locale?: string) => {
    const parsed = parseTemplateFile(text, channel);
    if ('problem' in parsed) {
      context.problem(at, `template ${file(locale)}: ${parsed.problem}`);
      return undefined;
    }
    context.keepTemplate(`${channel}:${name}${locale ? `@${normalLocale(locale)}` : ''}`, parsed.template);
    for (const [key, value] of Object.entries(parsed.template)) {
      context.checkText([...stepPath, 'template'], value, `template ${file(locale)}, ${key}: `);
    }
    return parsed.template;
  };
  const readsOf = (template: EmailTemplate | SmsTemplate) =>
    new Set(Object.values(template).flatMap((v: string | undefined) => (v ? context.variables(v) : [])));
  const base = parse(source);
  const defaultReads = base ? readsOf(base) : new Set<string>();
  for (const locale of locales) {
    const variantSource = context.readTemplate(name, channel, locale);
    if (variantSource === undefined) continue;
    const variant = parse(variantSource, locale);
    if (!variant) continue;
    const reads = readsOf(variant);
    const missing = [...defaultReads].filter((v) => !reads.has(v));
    if (missing.length > 0) {
      context.warn(
        at,
        `template ${file(locale)} does not read ${missing.join(', ')}, which ${file()} reads: a translation that forgot ${missing.length > 1 ? 'them' : 'it'}?`,
      );
    }
  }
}

export const send: StepSpec<'send'> = {
  label: (s) => `send ${s.channel}${s.template ? `: ${s.template}` : s.subject ? `: ${s.subject}` : ''}`,
  shape: 'action',
  arms: noArms,
  events: noEvents,
  expressions: noExpressions,
  // The message's own fields, on the step or in its channel's block (templates are checked with the content).
  texts: (s) => [
    ...MESSAGE_FIELDS.map((key) => [key]),
    ...['email', 'sms'].flatMap((block) =>
      s[block] && typeof s[block] === 'object' ? MESSAGE_FIELDS.map((key) => [block, key]) : [],
    ),
  ],
  check: checkContent,
};
