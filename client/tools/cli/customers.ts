/** `rapport customers show` and `rapport explain`: one customer, everything Rapport knows and did. */
import { clientFrom, type ConnectionOptions } from './journeys';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export async function customersShow(ref: string, options: ConnectionOptions & { json?: boolean }) {
  const d = await clientFrom(options).getCustomer(ref);
  if (options.json) return out(JSON.stringify(d, null, 2));
  const c = d.customer;
  const consent = Object.entries(c.consent).flatMap(([ch, p]) =>
    Object.entries(p).map(([purpose, g]) => `${ch} ${purpose} ${g ? 'yes' : 'no'}`),
  );
  out(
    [
      `${[c.firstName, c.lastName].filter(Boolean).join(' ') || '(no name)'} (${c.id})`,
      `  email ${c.email ?? '-'}, phone ${c.phone ?? '-'}, ${c.timezone}, ${c.locale}, prefers ${c.preferredChannel ?? 'no channel'}`,
      `  lifecycle ${c.lifecycleStage}; tags ${c.tags.join(', ') || '-'}`,
      `  orders ${c.metrics.orderCount}, lifetime value ${c.metrics.lifetimeValue.toFixed(2)}, last order ${c.metrics.lastOrderAt?.slice(0, 10) ?? '-'}`,
      `  identities: ${d.identities.map((i) => `${i.kind}=${i.value}`).join(', ') || '-'}`,
      `  consent: ${consent.join(', ') || 'none recorded'}`,
      'enrollments:',
      ...d.enrollments.map(
        (e) =>
          `  ${e.journeyId} v${e.version}: ${e.status}${e.currentStep && e.status === 'active' ? ` at ${e.currentStep}` : ''}${e.goalMet ? ', goal met' : ''}`,
      ),
      'timeline:',
      ...d.timeline.map((t) => `  ${t.at.replace('T', ' ').slice(0, 16)}  ${t.kind.padEnd(10)} ${t.summary}`),
    ].join('\n'),
  );
}

export async function explainCommand(
  ref: string,
  journey: string | undefined,
  options: ConnectionOptions & { json?: boolean },
) {
  const x = await clientFrom(options).explain(ref, journey);
  if (options.json) return out(JSON.stringify(x, null, 2));
  if (x.enrollments.length === 0) return out(`${x.customerId} has not been in ${journey ?? 'any journey'}`);
  const lines: string[] = [];
  for (const e of x.enrollments) {
    lines.push(
      `${e.journey} v${e.version} (${e.status}${e.outcome && e.status !== 'active' ? `: ${e.outcome}` : ''}${e.goalMet ? ', goal met' : ''}), since ${e.startedAt.slice(0, 16).replace('T', ' ')}`,
    );
    if (e.status === 'active')
      lines.push(`  now at ${e.currentStep ?? '?'}${e.waitingFor ? `, waiting for ${e.waitingFor}` : ''}`);
    for (const m of e.messages)
      lines.push(
        `  ${m.step} (${m.channel}): ${m.outcome}${m.at ? ` at ${m.at.slice(0, 16).replace('T', ' ')}` : ''}: ${m.why}`,
      );
  }
  out(lines.join('\n'));
}
