/** A journey as written, walked before the schema has accepted it, however malformed the rest is. */
import type { PathSeg } from '../steps';

export interface StepVisit {
  step: Record<string, unknown>;
  path: PathSeg[];
}

function isStepList(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.some((v) => v && typeof v === 'object' && 'type' in v);
}

/** Every step in the raw data, nested ones included, with its path, however malformed the rest is. */
export function walkSteps(list: unknown, path: PathSeg[], out: StepVisit[] = []): StepVisit[] {
  if (!Array.isArray(list)) return out;
  list.forEach((s, i) => {
    if (!s || typeof s !== 'object') return;
    const step = s as Record<string, unknown>;
    out.push({ step, path: [...path, i] });
    for (const [key, value] of Object.entries(step)) findStepLists(value, [...path, i, key], out);
  });
  return out;
}

/** Step lists nested anywhere in a value: under on_event, otherwise, cases[].steps, paths[].steps, wait.on_timeout. */
function findStepLists(value: unknown, path: PathSeg[], out: StepVisit[]): void {
  if (isStepList(value)) walkSteps(value, path, out);
  else if (Array.isArray(value)) value.forEach((v, i) => findStepLists(v, [...path, i], out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) findStepLists(v, [...path, k], out);
  }
}
