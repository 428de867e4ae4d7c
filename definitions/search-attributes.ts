/**
 * Search attributes that make enrollments findable in the Temporal UI. Never personal data: the
 * customer id is opaque, the rest describes the journey.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_JOURNEY = defineSearchAttributeKey('RapportJourney', SearchAttributeType.KEYWORD);
export const SA_VERSION = defineSearchAttributeKey('RapportJourneyVersion', SearchAttributeType.INT);
export const SA_CUSTOMER = defineSearchAttributeKey('RapportCustomerId', SearchAttributeType.KEYWORD);
export const SA_STEP = defineSearchAttributeKey('RapportStep', SearchAttributeType.KEYWORD);

export const searchAttributes = [SA_JOURNEY, SA_VERSION, SA_CUSTOMER, SA_STEP] as const;

/**
 * The workflow id of a customer's enrollment in a journey: one running workflow per pair. A journey
 * that enrolls concurrently (`entry.concurrent`) gives each enrollment its own, by its id; a keyed
 * journey (`entry.key`) each key, by a hash of the key (client/server/events/decide.ts keyPart).
 */
export function journeyWorkflowId(journeyId: string, customerId: string, part?: string): string {
  const base = `journey:${journeyId}:${customerId}`;
  return part ? `${base}:${part}` : base;
}

/** The customer a journey's workflow id names (journeyWorkflowId's inverse); undefined for other workflows. */
export function customerOfWorkflow(workflowId: string): string | undefined {
  const [kind, journey, customer] = workflowId.split(':');
  return kind === 'journey' && journey && customer ? customer : undefined;
}
