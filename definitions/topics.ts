/**
 * Subscription topics: what a marketing message is about (`newsletter`, `offers`, `product-updates`),
 * so that a customer can leave one kind of message and keep the others. A journey names its topic at
 * its top level and a send step may name another; only marketing messages carry one, since a
 * customer cannot opt out of receipts and account notices topic by topic.
 */
import { z } from 'zod';

/** A place in a journey as written, as the compiler names it (`steps[2].topic`). */
type PathSeg = string | number;

export const topicId = z
  .string()
  .regex(/^[a-z]+(-[a-z]+)*$/, 'expected a topic id: lowercase words joined by "-", such as offers or product-updates')
  .describe('A subscription topic (definitions/texts/topics.yaml): customers may leave it and keep the others');

/** The topic a send carries: its own, else its journey's; none for a journey that is not marketing. */
export function topicOf(
  journey: { category: string; topic?: string | undefined },
  step: { topic?: string | undefined },
): string | undefined {
  return journey.category === 'marketing' ? (step.topic ?? journey.topic) : undefined;
}

/**
 * The topics of a journey as written that cannot stand: on a journey that is not marketing, or not
 * among `known` (the ids of the topics texts). A topic missing from that list would have no box on
 * the preference page, so nobody could leave it but by leaving everything; and a misspelt one
 * (`offer` for `offers`) would reach the customers who left the right one.
 */
export function topicProblems(
  written: Record<string, unknown>,
  sends: { step: Record<string, unknown>; path: PathSeg[] }[],
  known: ReadonlySet<string> | undefined,
): { path: PathSeg[]; message: string }[] {
  const problems: { path: PathSeg[]; message: string }[] = [];
  const category = written.category;
  const check = (topic: unknown, path: PathSeg[]) => {
    if (typeof topic !== 'string' || !topicId.safeParse(topic).success) return; // the schema says why
    if (category !== 'marketing' && typeof category === 'string') {
      problems.push({
        path,
        message: `only marketing messages carry a topic: this journey is ${category}, which customers cannot leave by topic`,
      });
    } else if (known && !known.has(topic)) {
      const list = [...known].sort().join(', ');
      problems.push({
        path,
        message: `unknown topic "${topic}": add it to definitions/texts/topics.yaml${list ? ` (known: ${list})` : ''}`,
      });
    }
  };
  check(written.topic, ['topic']);
  for (const { step, path } of sends) if (step.type === 'send') check(step.topic, [...path, 'topic']);
  return problems;
}
