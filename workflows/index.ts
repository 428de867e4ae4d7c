/** Every workflow the worker registers. Deterministic code only: see eslint.config.js. */
export { journeyWorkflow, journeyStateQuery, journeyEventSignal, taskCompletedSignal } from './journey';
export { segmentRunWorkflow, segmentRunStateQuery } from './segment-run';
