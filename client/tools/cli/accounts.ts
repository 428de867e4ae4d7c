/** `rapport accounts show`: one account (client organisation), its contacts, revenue, value and latest timeline. */
import { clientFrom, type ConnectionOptions } from './connection';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** How many of the newest timeline entries the command shows. */
const SHOWN_ENTRIES = 20;

export async function accountsShow(id: string, options: ConnectionOptions & { json?: boolean }) {
  const client = clientFrom(options);
  const [account, timeline] = await Promise.all([
    client.getAccount(id),
    client.accountTimeline(id, { limit: SHOWN_ENTRIES }),
  ]);
  if (options.json) return out(JSON.stringify({ ...account, timeline: timeline.entries }, null, 2));
  out(
    [
      `${account.name ?? '(no name)'} (${account.id})`,
      `  orders ${account.orderCount}, revenue ${account.revenue.toFixed(2)}, last order ${account.lastOrderAt?.slice(0, 10) ?? '-'}`,
      `  predicted value ${account.value.toFixed(2)} (12 months, the contacts' together)`,
      `contacts (${account.contacts.length}):`,
      ...account.contacts.map(
        (c) =>
          `  ${c.id}  ${[c.firstName, c.lastName].filter(Boolean).join(' ') || '(no name)'}, ${c.email ?? '-'}, ${c.lifecycleStage}, value ${c.clv.toFixed(2)}`,
      ),
      `timeline (newest first${timeline.next ? `, the latest ${SHOWN_ENTRIES}` : ''}):`,
      ...timeline.entries.map(
        (t) => `  ${t.at.replace('T', ' ').slice(0, 16)}  ${t.customerId}  ${t.kind.padEnd(10)} ${t.summary}`,
      ),
    ].join('\n'),
  );
}
