/** Every workflow the worker registers. Deterministic code only: see eslint.config.js. */
export { journeyWorkflow } from './journey';
export { segmentRunWorkflow } from './segment-run';
export { insightsRefreshWorkflow } from './insights-refresh';
