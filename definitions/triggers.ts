/**
 * The event types that enroll a journey's customers and end their enrollments, whatever the trigger:
 * an event names its own type; a scheduled run and a segment's entries and exits enroll and end by
 * events the engine accepts itself, one type per journey, so each reaches that journey alone.
 */
import type { JourneyDefinition } from './schema/journey';

/** The event type a journey's scheduled runs enroll by (activities/segments.ts). */
export const scheduledEventType = (journeyId: string) => `schedule.${journeyId}`;

/** The event type of a customer coming to match a journey's `trigger: { segment, on: enter }`. */
export const segmentEnteredType = (journeyId: string) => `segment.${journeyId}.entered`;

/** The event type of a customer ceasing to match it (`exit: { segment: leave }` ends the enrollment). */
export const segmentLeftType = (journeyId: string) => `segment.${journeyId}.left`;

/** The event journeys trigger on when a customer lapses (activities/segment-watch.ts). */
export const LAPSED_EVENT = 'customer.lapsed';

/** Whether an event is one the segment watch raises: a segment entry or exit, or a lapse. */
export const raisedByWatch = (type: string) => type === LAPSED_EVENT || /^segment\.[^.]+\.(entered|left)$/.test(type);

type Triggered = Pick<JourneyDefinition, 'journey' | 'trigger'>;

/** Whether a journey enrolls customers the moment they enter its segment. */
export function entersOnSegment(def: Triggered): boolean {
  return def.trigger.segment !== undefined && def.trigger.schedule === undefined;
}

/** The event type that enrolls customers in a journey. */
export function triggerEventType(def: Triggered): string {
  if (def.trigger.event) return def.trigger.event;
  return entersOnSegment(def) ? segmentEnteredType(def.journey) : scheduledEventType(def.journey);
}

/** The event types that end an enrollment: the exit events, and leaving the segment when asked. */
export function exitEventTypes(def: Pick<JourneyDefinition, 'journey' | 'exit'>): string[] {
  if (!def.exit) return [];
  return [...(def.exit.events ?? []), ...(def.exit.segment === 'leave' ? [segmentLeftType(def.journey)] : [])];
}
