/** What one fault's run found, as `npm run faults` prints it (faults/README.md says what each count means). */
export interface Row {
  fault: string;
  customers: number;
  accepted: number;
  routed: number;
  intended: number;
  delivered: number;
  duplicated: number;
  failed: number;
  ambiguous: number;
  stuck: number;
  /** Ambiguous sends the provider did deliver: recorded `unknown`, and sent once. */
  ambiguousDelivered: number;
  /** Answers of 503 while the fault was on (each event sent again until accepted). */
  unavailable: number;
  /** Times Rapport's process was killed (the kill faults). */
  kills?: number;
  /** What a fault's own checks found (a task made twice, an order imported twice). */
  problems?: string[];
  seconds: number;
}
