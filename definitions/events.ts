/** An event as journeys see it: the one that enrolled the customer, or one a step waits for. */
export interface JourneyEvent {
  id: string;
  type: string;
  /** ISO 8601. */
  occurredAt: string;
  data: Record<string, unknown>;
}
