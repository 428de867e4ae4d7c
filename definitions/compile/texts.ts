/** The variables a Liquid text in a journey may read. */
import { ACCOUNT_FIELDS, CUSTOMER_FIELDS, METRIC_FIELDS, PREDICTED_FIELDS, RFM_FIELDS } from '../facts';
import { closest } from '../suggest';

const CUSTOMER_FIELD_NAMES = Object.keys(CUSTOMER_FIELDS);
const METRIC_FIELD_NAMES = Object.keys(METRIC_FIELDS);
const PREDICTED_FIELD_NAMES = Object.keys(PREDICTED_FIELDS);
const RFM_FIELD_NAMES = Object.keys(RFM_FIELDS);
const ACCOUNT_FIELD_NAMES = Object.keys(ACCOUNT_FIELDS);
const EVENT_FIELDS = ['id', 'type', 'occurredAt', 'data'];
/** What a digest step gives, as events.<id>: its events (each with EVENT_FIELDS), and how many. */
const DIGEST_FIELDS = ['items', 'count'];

/** Checks the variables a template reads; returns the first unknown one, described. */
export function unknownVariable(
  segments: (string | number)[],
  known: { events: Set<string>; tasks: Set<string>; digests: Set<string> },
): string | undefined {
  const [root, second, third] = segments.map(String);
  const guess = (word: string | undefined, options: readonly string[]) => {
    const g = word ? closest(word, options) : undefined;
    return g ? `; did you mean "${g}"?` : '';
  };
  switch (root) {
    case 'customer':
      if (second !== undefined && !CUSTOMER_FIELD_NAMES.includes(second))
        return `unknown variable customer.${second}${guess(second, CUSTOMER_FIELD_NAMES)}`;
      if (second === 'metrics' && third !== undefined && !METRIC_FIELD_NAMES.includes(third))
        return `unknown variable customer.metrics.${third}${guess(third, METRIC_FIELD_NAMES)}`;
      if (second === 'predicted' && third !== undefined && !PREDICTED_FIELD_NAMES.includes(third))
        return `unknown variable customer.predicted.${third}${guess(third, PREDICTED_FIELD_NAMES)}`;
      if (second === 'rfm' && third !== undefined && !RFM_FIELD_NAMES.includes(third))
        return `unknown variable customer.rfm.${third}${guess(third, RFM_FIELD_NAMES)}`;
      if (second === 'account' && third !== undefined && !ACCOUNT_FIELD_NAMES.includes(third))
        return `unknown variable customer.account.${third}${guess(third, ACCOUNT_FIELD_NAMES)}`;
      return undefined;
    case 'event':
      return second !== undefined && !EVENT_FIELDS.includes(second)
        ? `unknown variable event.${second}${guess(second, EVENT_FIELDS)}`
        : undefined;
    case 'events': {
      const digests = [...known.digests];
      if (second !== undefined && digests.includes(second))
        return third !== undefined && !DIGEST_FIELDS.includes(third)
          ? `unknown variable events.${second}.${third}: a digest gives items and count${guess(third, DIGEST_FIELDS)}`
          : undefined;
      return second !== undefined && !known.events.has(second)
        ? `unknown variable events.${second}: no wait_for or digest step has that id${guess(second, [...known.events, ...digests])}`
        : undefined;
    }
    case 'tasks':
      return second !== undefined && !known.tasks.has(second)
        ? `unknown variable tasks.${second}: no task step has that id${guess(second, [...known.tasks])}`
        : undefined;
    case 'journey':
      return second !== undefined && !['id', 'version', 'enrolledAt', 'name'].includes(second)
        ? `unknown variable journey.${second}`
        : undefined;
    case 'now':
    case 'unsubscribeUrl':
      return undefined;
    default:
      return `unknown variable ${root ?? ''}${guess(root, ['customer', 'event', 'events', 'tasks', 'journey', 'now', 'unsubscribeUrl'])}; templates can read customer, event, events, tasks, journey, now and unsubscribeUrl`;
  }
}
