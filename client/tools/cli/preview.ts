/**
 * `rapport preview` and `rapport send-test`: a send step's message as one customer would get it, and
 * that message sent for real to another address, marked as a test.
 */
import type { MessagePreview, PreviewInput } from '../../sdk';
import { clientFrom, type ConnectionOptions, customerArg } from './connection';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

interface PreviewOptions extends ConnectionOptions {
  customer: string;
  version?: string;
  event?: string;
  json?: boolean;
}

function jsonObject(option: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${option}: not JSON (${(e as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${option}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/** The request body: `--customer` as a reference (email, +phone, system:id, id) or inline JSON facts. */
function inputOf(options: PreviewOptions): PreviewInput {
  const text = options.customer.trim();
  const customer = text.startsWith('{') ? { facts: jsonObject('--customer', text) } : customerArg(text);
  let version: number | undefined;
  if (options.version !== undefined) {
    version = Number(options.version);
    if (!Number.isInteger(version) || version < 1) throw new Error('--version: expected a version number, such as 2');
  }
  return {
    customer,
    ...(version !== undefined ? { version } : {}),
    ...(options.event !== undefined ? { event: jsonObject('--event', options.event) } : {}),
  };
}

function describe(p: MessagePreview): string {
  const who = p.customerId ? `customer ${p.customerId}` : 'the facts given';
  const lines = [`${p.journey} version ${p.version}, step ${p.step}, for ${who}`, `channel: ${p.channel} (${p.why})`];
  if (p.unreachable) lines.push(`note: a real send to this customer would be skipped: ${p.unreachable}`);
  if (p.email) {
    const e = p.email;
    lines.push(
      '',
      `From: ${e.from}`,
      ...(e.replyTo ? [`Reply-To: ${e.replyTo}`] : []),
      `Subject: ${e.subject}`,
      ...Object.entries(e.headers).map(([name, value]) => `${name}: ${value}`),
      '',
      `(a real send tracks clicks: ${e.tracking.clicks ? 'yes' : 'no'}, opens: ${e.tracking.opens ? 'yes' : 'no'}; links are shown as written)`,
      '',
      '--- text ---',
      e.text.replace(/\s+$/, ''),
      '--- html ---',
      e.html.replace(/\s+$/, ''),
    );
  }
  if (p.sms) {
    const s = p.sms;
    lines.push(
      `${s.characters} characters, ${s.encoding}, ${s.segments} segment${s.segments === 1 ? '' : 's'}`,
      '--- text ---',
      s.text,
    );
  }
  return lines.join('\n');
}

export async function previewCommand(journey: string, step: string, options: PreviewOptions) {
  const preview = await clientFrom(options).previewStep(journey, step, inputOf(options));
  out(options.json ? JSON.stringify(preview, null, 2) : describe(preview));
}

export async function sendTestCommand(journey: string, step: string, options: PreviewOptions & { to: string }) {
  const sent = await clientFrom(options).sendTest(journey, step, { ...inputOf(options), to: options.to });
  if (options.json) return out(JSON.stringify(sent, null, 2));
  out(`test ${sent.channel} sent to ${sent.to} (${sent.providerRef})\n\n${describe(sent.preview)}`);
}
