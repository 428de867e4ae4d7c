/**
 * How a provider failure is handled, decided by the channel that saw it:
 * - `permanent`: the provider refused the message for good (SMTP 5xx, Twilio 21211). Recorded, not retried.
 * - `retryable`: the provider did not take the message (SMTP 4xx, Twilio 429 or 5xx, a connection that
 *   broke before the message was handed over). Retried with backoff, a bounded number of times.
 * - `ambiguous`: the message was handed over and no answer came (a timeout after the last byte). The
 *   provider may have it: sending again could deliver it twice.
 */
export type FailureKind = 'permanent' | 'retryable' | 'ambiguous';

export class ChannelError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    /** The provider's code: an SMTP reply code, a Twilio error code, or a network error code. */
    readonly code?: string | number,
    /** The provider says the address will never take a message: suppress it. */
    readonly suppress?: 'hard_bounce' | 'stop',
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}
