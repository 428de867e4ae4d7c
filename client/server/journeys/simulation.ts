/**
 * Simulating a published journey for one customer, as the API offers it (POST /v1/journeys/:id/simulate).
 *
 * The simulation itself runs the real workflow on Temporal's time-skipping server, which lives above
 * the server (client/tools/simulate); `rapport start` and the test stack hand the API a `Simulator`
 * that does it. This module says what goes in and what comes out, so the API and the console need
 * nothing from above.
 */

/** What the API asks a simulator for. */
export interface SimulationRequest {
  journey: string;
  version: number;
  /** The YAML the version was published from. */
  source: string;
  /**
   * The made-up customer (as `rapport simulate --customer` takes one), or, with `live`, the fields
   * that replace the live customer's copy.
   */
  customer: Record<string, unknown>;
  /** A live customer as GET /v1/customers/<ref> answered: their copy is simulated, never they. */
  live?: unknown;
  /** Events and task completions at offsets from the enrollment, as `rapport simulate --events` takes them. */
  events: unknown[];
  /** The data of the event that enrolls the customer. */
  triggerData?: Record<string, unknown>;
}

/** What the simulation gives: the steps reached, the messages sent, the events sent, the end. */
export interface SimulationView {
  journey: string;
  version: number;
  customer: { id: string; timezone: string };
  enrolledAt: string;
  outcome: string;
  reason: string | null;
  goalMet: boolean;
  steps: { at: string; local: string; offset: string; step: string; type: string; outcome: string; detail: string }[];
  messages: {
    at: string;
    local: string;
    offset: string;
    channel: 'email' | 'sms';
    step: string;
    template: string | null;
    subject: string | null;
    text: string;
  }[];
  events: { at: string; offset: string; type: string; enrolled: string[]; signalled: string[] }[];
}

export type Simulator = (request: SimulationRequest) => Promise<SimulationView>;

/**
 * A simulation that did not run: 422 when the request cannot be simulated as given (a customer
 * without an email, an event at a malformed offset), 503 when the simulator cannot start.
 */
export class SimulationFailure extends Error {
  constructor(
    message: string,
    readonly status: 422 | 503 = 422,
  ) {
    super(message);
    this.name = 'SimulationFailure';
  }
}
