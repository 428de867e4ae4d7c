/**
 * Lead scores: the rules of the scoring file (`definitions/scoring.yaml`), checked when Rapport
 * starts, and the arithmetic of a score that halves every half-life. A score is kept as a value at
 * a time; its value now is computed when it is read, so decay needs no job that rewrites scores.
 */
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { checkCel } from './cel';
import { Locator, formatPath } from './compile/locate';
import { DURATION_HINT, parseDuration } from './duration';

const points = z
  .number({ error: 'expected a number of points' })
  .refine((p) => Number.isFinite(p) && p !== 0, 'expected a number of points other than 0');

const condition = z.string({ error: 'expected a CEL condition' }).trim().min(1, 'expected a CEL condition');

/**
 * A rule gives points for each event of a type (`event`, optionally only `when` a condition over the
 * event and the customer holds), or once for an attribute condition (`when` alone, over the customer).
 */
const ruleSchema = z
  .strictObject({
    /** A name for the timeline; an attribute rule is also counted by it (default: its condition). */
    name: z.string().trim().min(1).optional(),
    event: z.string({ error: 'expected an event type' }).trim().min(1, 'expected an event type').optional(),
    points,
    when: condition.optional(),
  })
  .refine((r) => r.event !== undefined || r.when !== undefined, {
    message: 'a rule needs an "event" (points per event) or a "when" condition (points once while it holds)',
  });

const scoringSchema = z.strictObject({
  /** How long the score takes to halve; without it, points never decay. */
  halfLife: z
    .string({ error: `expected ${DURATION_HINT}` })
    .refine((t) => parseDuration(t) !== undefined, `expected ${DURATION_HINT}`)
    .optional(),
  /** The score never exceeds this. */
  cap: z.number({ error: 'expected a number' }).positive('expected a number above 0').optional(),
  rules: z.array(ruleSchema, { error: 'expected a list of rules' }).default([]),
});

interface Rule {
  /** What the timeline says the points were for. */
  label: string;
  points: number;
  when?: string | undefined;
}

interface AttributeRule extends Rule {
  /** What the customer's record keeps once the rule's points are counted. */
  key: string;
  when: string;
}

/** The scoring file, checked and ready: event rules by event type, so an event finds its own at once. */
export interface Scoring {
  file: string;
  /** Undefined: points never decay. */
  halfLifeMs: number | undefined;
  cap: number;
  byEvent: ReadonlyMap<string, readonly Rule[]>;
  attributeRules: readonly AttributeRule[];
}

export class ScoringError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      `${file} has ${problems.length === 1 ? 'a problem' : `${problems.length} problems`}:\n${problems.join('\n')}`,
    );
    this.name = 'ScoringError';
  }
}

/** Reads a scoring file's text; throws ScoringError naming each problem's line, rule and field. */
export function parseScoring(source: string, file: string): Scoring {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScoringError(
      file,
      doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  const locate = new Locator(doc, lines);
  const where = (path: readonly (string | number)[]) =>
    `${file}:${locate.at(path).line}: ${path.length > 0 ? `${formatPath(path)}: ` : ''}`;

  const parsed = scoringSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    throw new ScoringError(
      file,
      parsed.error.issues.map((issue) => {
        const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
        if (issue.code === 'unrecognized_keys') {
          return `${where(path)}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
        }
        return `${where(path)}${issue.message}`;
      }),
    );
  }

  const problems: string[] = [];
  const byEvent = new Map<string, Rule[]>();
  const attributeRules: AttributeRule[] = [];
  for (const [i, r] of parsed.data.rules.entries()) {
    if (r.when !== undefined) {
      // An event rule reads the event and the customer, an attribute rule the customer alone.
      const problem = checkCel(r.when, r.event !== undefined ? 'trigger' : 'segment', 'bool');
      if (problem) problems.push(`${where(['rules', i, 'when'])}${problem.message}`);
    }
    if (r.event !== undefined) {
      const rules = byEvent.get(r.event) ?? [];
      rules.push({ label: r.name ?? r.event, points: r.points, when: r.when });
      byEvent.set(r.event, rules);
    } else {
      const key = r.name ?? r.when!;
      const same = attributeRules.findIndex((a) => a.key === key);
      if (same >= 0) {
        problems.push(
          `${where(['rules', i])}the same ${r.name ? 'name' : 'condition'} as an earlier rule: give each attribute rule its own "name"`,
        );
      }
      attributeRules.push({ key, label: key, points: r.points, when: r.when! });
    }
  }
  if (problems.length > 0) throw new ScoringError(file, problems);
  return {
    file,
    halfLifeMs: parsed.data.halfLife === undefined ? undefined : parseDuration(parsed.data.halfLife),
    cap: parsed.data.cap ?? Number.POSITIVE_INFINITY,
    byEvent,
    attributeRules,
  };
}

/**
 * What `value` points, as of `from`, are worth at `to`: halved for each half-life in between. Time
 * before `from` (an event dated later than now, a clock set back) does not grow them.
 */
export function decayed(value: number, from: Date, to: Date, halfLifeMs: number | null | undefined): number {
  if (!halfLifeMs || value === 0) return value;
  const elapsed = to.getTime() - from.getTime();
  return elapsed <= 0 ? value : value * 0.5 ** (elapsed / halfLifeMs);
}

/** A score as the customer's record keeps it: its value at a time, and the half-life it decays by. */
export interface StoredScore {
  score: number;
  score_at: Date | null;
  score_half_life_s: number | null;
}

/** The score at `now`; rounded to two decimals unless asked not to (what CEL, templates and the API read). */
export function scoreNow(stored: StoredScore, now: Date, options: { round?: boolean } = {}): number {
  const value = stored.score_at
    ? decayed(stored.score, stored.score_at, now, stored.score_half_life_s && stored.score_half_life_s * 1000)
    : stored.score;
  return options.round === false ? value : Math.round(value * 100) / 100;
}
