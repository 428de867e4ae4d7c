/**
 * Holdouts: a share of those who enter a journey get none of its sends, and their goal is still
 * counted, so the report can say what the journey's messages changed (lift). A journey's own
 * (`holdout: 10%`) and the configured global one (RAPPORT_GLOBAL_HOLDOUT, for marketing journeys:
 * customers kept out of all marketing). Pure: the router assigns, the interpreter obeys.
 */
import type { JourneyDefinition } from './schema/journey';

/** FNV-1a as a number in [0, 1): stable, so an assignment is the same on replay, after continue-as-new, anywhere. */
export function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0x100000000;
}

/**
 * FNV-1a with MurmurHash3's finalizer, as a number in [0, 1): every input bit reaches the top bits,
 * so keys that differ only at their end (ids made of a time and a random tail) spread evenly.
 * Splits keep plain unitHash: their assignments must not change under running journeys.
 */
function mixedUnitHash(text: string): number {
  let h = Math.floor(unitHash(text) * 0x100000000);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 0x100000000;
}

/** A share written as a percentage, `10%` or `2.5%`, as a fraction. */
export const SHARE_PATTERN = /^(\d{1,2}(\.\d{1,2})?)%$/;
export function parseShare(text: string): number {
  const m = SHARE_PATTERN.exec(text.trim());
  if (!m) throw new Error(`expected a share such as "10%", got "${text}"`);
  return Number(m[1]) / 100;
}

/**
 * Which holdout a customer entering a journey is in, if any: the journey's own (`holdout`) or the
 * global one. The customer keeps it for every entry.
 */
export type Holdout = 'holdout' | 'global';

export function holdoutOf(def: JourneyDefinition, customerId: string, globalShare: number): Holdout | undefined {
  if (globalShare > 0 && def.category === 'marketing' && mixedUnitHash(`global:${customerId}`) < globalShare) {
    return 'global';
  }
  if (def.holdout && mixedUnitHash(`holdout:${def.journey}:${customerId}`) < parseShare(def.holdout)) return 'holdout';
  return undefined;
}
