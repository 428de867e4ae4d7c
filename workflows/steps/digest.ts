import { log } from '@temporalio/workflow';
import { evaluateCondition } from '../../definitions/cel';
import { durationMs } from '../../definitions/duration';
import type { CustomerFacts, EventFacts } from '../../definitions/facts';
import type { DigestStep } from '../../definitions/steps/digest';
import { NEXT, type StepContext, type StepResult } from './context';

/**
 * The most a digest's list may weigh, in characters of JSON: it is kept in the workflow's state and
 * carried at each continue-as-new, and Temporal refuses a payload over 2 MB. A digest that would
 * pass it ends full, as at `max`.
 */
const DIGEST_MAX_BYTES = 256 * 1024;

/**
 * Gathers the customer's events of one type until the window closes or `max` are in. The enrolling
 * event counts first when it is of that type (once per enrollment), then every matching event
 * received since enrollment that no wait_for or digest took, then those that arrive within the
 * window, oldest first. Only id, type, occurredAt and data are kept: the list lives in the
 * workflow's state, and ends full at DIGEST_MAX_BYTES.
 */
export async function runDigest(step: DigestStep, ctx: StepContext): Promise<StepResult> {
  const { memory, input } = ctx;
  const items: EventFacts[] = [];
  let bytes = 0;
  /** Keeps an event unless it would take the list past its size; says whether it was kept. */
  const add = (e: EventFacts): boolean => {
    const kept = keep(e);
    const size = JSON.stringify(kept).length;
    if (items.length > 0 && bytes + size > DIGEST_MAX_BYTES) return false;
    items.push(kept);
    bytes += size;
    return true;
  };
  const matches = (event: EventFacts, customer: CustomerFacts | undefined): boolean => {
    if (event.type !== step.event) return false;
    if (!step.when) return true;
    try {
      return evaluateCondition(step.when, 'wait_for', { ...ctx.facts(customer), event });
    } catch (err) {
      log.warn('digest condition failed; the event does not count', { step: step.id, error: (err as Error).message });
      return false;
    }
  };
  const keep = (e: EventFacts): EventFacts => ({
    ...(e.id !== undefined ? { id: e.id } : {}),
    type: e.type,
    occurredAt: e.occurredAt,
    data: e.data,
  });

  if (!memory.triggerDigested && input.event.type === step.event) {
    // The customer is read only for a condition, which may read them.
    const customer = step.when ? await ctx.loadCustomer() : undefined;
    if (matches(input.event, customer)) {
      add(input.event);
      memory.triggerDigested = true;
    }
  }

  // Inbox entries already found not to match, so that each event's condition is evaluated once.
  const refused = new Set<number>();
  /** Moves matching events from the inbox into the digest; says whether it is full. */
  let overflowed = false;
  const take = (): boolean => {
    for (const entry of memory.inbox) {
      if (items.length >= step.max || overflowed) break;
      if (refused.has(entry.seq)) continue;
      if (!matches(entry.event, entry.customer)) {
        refused.add(entry.seq);
        continue;
      }
      // An event that does not fit stays in the inbox, for a later step or the next digest.
      if (!add(entry.event)) {
        overflowed = true;
        break;
      }
      memory.inbox = memory.inbox.filter((e) => e !== entry);
    }
    return items.length >= step.max || overflowed;
  };

  let full = take();
  if (!full) {
    const windowMs = durationMs(step.window);
    const closesAt = new Date(Date.now() + windowMs).toISOString();
    full = await ctx.waitUntil(`up to ${step.max} ${step.event} events until ${closesAt}`, take, windowMs);
    if (ctx.interrupted()) return NEXT;
    // Events handled in the same moment the window closed still count.
    full = take();
  }
  memory.events[step.id] = { items, count: items.length };
  ctx.record(
    step.id,
    { kind: 'digest', status: full ? 'full' : 'closed', event: step.event, count: items.length },
    `${items.length} ${step.event}${full ? ` (at most ${step.max})` : ` within ${step.window}`}`,
  );
  return NEXT;
}
