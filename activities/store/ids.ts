import { ulid } from 'ulid';

/** Opaque, sortable ids that carry no personal data (they appear in workflow ids and the Temporal UI). */
export function newId(prefix: 'cus' | 'enr' | 'evt'): string {
  return `${prefix}_${ulid().toLowerCase()}`;
}
