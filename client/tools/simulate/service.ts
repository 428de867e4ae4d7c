/**
 * Simulations for a running Rapport (POST /v1/journeys/:id/simulate, and the console's simulate page):
 * the same `simulate` as `rapport simulate`, on one time-skipping server per process, started the
 * first time it is asked for and kept for the next. Simulations take turns: the time-skipping
 * server's clock is one for all, and a simulation moves it.
 *
 * A simulation starts at the real time, as `rapport simulate` does, so that its days of the week and
 * quiet hours are today's. Waiting for a journey's end lets the server's clock run on past it (by ten
 * years, as seen on the test server), so a server whose clock has run ahead is replaced by a new one
 * before the next simulation: starting one takes about 150 ms.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { CustomerDetail } from '../../sdk';
import {
  SimulationFailure,
  type SimulationRequest,
  type SimulationView,
  type Simulator,
} from '../../server/journeys/simulation';
import { timeSkippingEnv } from '../testing/environment';
import { customerFromLive, simulate, SimulationError } from './simulate';

/** How far ahead of the real time a time-skipping server's clock may be for a simulation to start on it. */
const CLOCK_AHEAD_MS = 60 * 60_000;

export interface SimulationService {
  simulate: Simulator;
  /** Stops the time-skipping server, if one was started. */
  close(): Promise<void>;
}

export function simulationService(options: {
  /** The templates folder the journeys were published with (RAPPORT_TEMPLATES_DIR). */
  templatesDir?: string;
  /** A time-skipping environment to run in, kept open on close; default: one started when first needed. */
  env?: TestWorkflowEnvironment;
}): SimulationService {
  let env: Promise<TestWorkflowEnvironment> | undefined = options.env ? Promise.resolve(options.env) : undefined;
  let turn: Promise<unknown> = Promise.resolve();
  let closed = false;

  const environment = async (): Promise<TestWorkflowEnvironment> => {
    env ??= timeSkippingEnv();
    let started: TestWorkflowEnvironment;
    try {
      started = await env;
    } catch (err) {
      // Not started: the next simulation tries again.
      env = undefined;
      throw new SimulationFailure(`the time-skipping server could not start: ${(err as Error).message}`, 503);
    }
    if (options.env || (await started.currentTimeMs()) - Date.now() < CLOCK_AHEAD_MS) return started;
    env = undefined;
    await started.teardown();
    return environment();
  };

  const run = async (request: SimulationRequest): Promise<SimulationView> => {
    if (closed) throw new SimulationFailure('the simulator has stopped', 503);
    let customer = request.customer;
    if (request.live !== undefined) {
      try {
        customer = { ...customerFromLive(request.live as CustomerDetail), ...request.customer };
      } catch (err) {
        if (err instanceof SimulationError) throw new SimulationFailure(err.message.replace(/^--from: /, ''));
        throw err;
      }
    }
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-simulation-'));
    try {
      const journeyFile = path.join(scratch, `${request.journey}.yaml`);
      fs.writeFileSync(journeyFile, request.source);
      const result = await simulate({
        journeyFile,
        ...(options.templatesDir ? { templatesDir: options.templatesDir } : {}),
        customer,
        events: request.events as never,
        ...(request.triggerData ? { triggerData: request.triggerData } : {}),
        env: await environment(),
      });
      // The simulation published the source as its own first version; it is this one.
      return { ...result, version: request.version };
    } catch (err) {
      if (err instanceof SimulationError) throw new SimulationFailure(err.message.split(`${scratch}/`).join(''));
      throw err;
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  };

  return {
    simulate(request) {
      const mine = turn.then(() => run(request));
      turn = mine.catch(() => undefined);
      return mine;
    },
    async close() {
      closed = true;
      await turn;
      if (env && !options.env) await (await env.catch(() => undefined))?.teardown();
    },
  };
}
