/** Template files: `<name>.email.yaml` (subject, text, optional html) and `<name>.sms.yaml` (text). */
import { parse } from 'yaml';
import type { EmailTemplate, SmsTemplate } from './schema/journey';

export type TemplateChannel = 'email' | 'sms';

export function parseTemplateFile(
  text: string,
  channel: TemplateChannel,
): { template: EmailTemplate | SmsTemplate } | { problem: string } {
  let data: unknown;
  try {
    data = parse(text);
  } catch (e) {
    return { problem: `not valid YAML (${(e as Error).message.split('\n')[0]})` };
  }
  if (!data || typeof data !== 'object') return { problem: 'expected a mapping' };
  const d = data as Record<string, unknown>;
  const allowed = channel === 'email' ? ['subject', 'text', 'html'] : ['text'];
  const extra = Object.keys(d).filter((k) => !allowed.includes(k));
  if (extra.length) return { problem: `unknown key ${extra.join(', ')}; expected ${allowed.join(', ')}` };
  if (typeof d.text !== 'string' || !d.text) return { problem: 'missing "text"' };
  if (channel === 'sms') return { template: { text: d.text } };
  if (typeof d.subject !== 'string' || !d.subject) return { problem: 'missing "subject"' };
  if (d.html !== undefined && typeof d.html !== 'string') return { problem: '"html" must be text' };
  return { template: { subject: d.subject, text: d.text, ...(typeof d.html === 'string' ? { html: d.html } : {}) } };
}
