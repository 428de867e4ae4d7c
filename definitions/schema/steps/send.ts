import { z } from 'zod';
import { liquidText, stepId, templateName } from '../common';

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
  })
  .strict()
  .describe('Sends one message after the consent, quiet-hours and frequency-cap checks.');

export type SendStep = z.infer<typeof sendStep>;
