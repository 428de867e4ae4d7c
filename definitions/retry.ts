/**
 * Retry limits shared by the workflow (which sets the activity retry policy) and the activities
 * (which record a failure for good on the last attempt instead of leaving it open).
 */

/** Attempts of a send or webhook call before it is recorded as failed. With 2 s doubling up to 10 min, about an hour. */
export const OUTBOUND_MAX_ATTEMPTS = 12;
