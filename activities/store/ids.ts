import { monotonicFactory } from 'ulid';

/** Ids made in one process sort in the order they were made, even within one millisecond. */
const ulid = monotonicFactory();

/** Opaque, sortable ids that carry no personal data (they appear in workflow ids and the Temporal UI). */
export function newId(prefix: 'cus' | 'enr' | 'evt'): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}
