/** `rapport simulate`: a journey played out for one customer on the time-skipping server. */
import fs from 'node:fs';
import { parse } from 'yaml';
import { customerFromLive, formatSimulation, simulate, SimulationError } from '../simulate/simulate';
import { clientFrom, type ConnectionOptions } from './connection';

/** A JSON or YAML file, or inline JSON. */
function readDocument(option: string, value: string): unknown {
  const text = value.trim().startsWith('{') || value.trim().startsWith('[') ? value : readFile(option, value);
  try {
    return parse(text) as unknown;
  } catch (err) {
    throw new SimulationError(`${option}: not valid JSON or YAML (${(err as Error).message.split('\n')[0]})`);
  }
}

function readFile(option: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new SimulationError(`${option}: no such file ${file} (give a file, or inline JSON)`);
  }
}

/**
 * The simulated customer: the one given, or a copy of a live customer read through the API
 * (`--from`), with any fields given replacing the copy's. Reading is all `--from` does with the live
 * instance: the simulation runs on its own time-skipping server and in-memory database, with the
 * channels captured, so nothing reaches the customer and nothing is written to the instance.
 */
async function customerOf(options: SimulateOptions): Promise<Record<string, unknown>> {
  const given = options.customer ? (readDocument('--customer', options.customer) as Record<string, unknown>) : {};
  if (!options.from) {
    if (!options.customer)
      throw new SimulationError('give --customer <file|json>, or --from <customer> to copy a live one');
    return given;
  }
  let live;
  try {
    live = await clientFrom(options).getCustomer(options.from);
  } catch (err) {
    throw new SimulationError(`--from ${options.from}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { ...customerFromLive(live), ...given };
}

interface SimulateOptions extends ConnectionOptions {
  customer?: string;
  from?: string;
  events?: string;
  data?: string;
  start?: string;
  templates?: string;
  json?: boolean;
}

export async function simulateCommand(file: string, options: SimulateOptions): Promise<void> {
  try {
    const customer = await customerOf(options);
    const started = Date.now();
    let ready = started;
    const result = await simulate({
      onReady: () => {
        ready = Date.now();
      },
      journeyFile: file,
      customer,
      ...(options.events ? { events: readDocument('--events', options.events) as never } : {}),
      ...(options.data ? { triggerData: readDocument('--data', options.data) as Record<string, unknown> } : {}),
      ...(options.start ? { start: options.start } : {}),
      ...(options.templates ? { templatesDir: options.templates } : {}),
    });
    if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      process.stdout.write(`${formatSimulation(result)}\n`);
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      process.stderr.write(`start-up ${s(ready - started)}, simulation ${s(Date.now() - ready)}\n`);
    }
  } catch (err) {
    if (!(err instanceof SimulationError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  }
}
