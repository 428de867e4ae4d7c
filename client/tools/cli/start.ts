import type { Logger } from 'pino';
import { ConfigError, parseConfig } from '../../../worker/config';
import { createLogger } from '../../../worker/logger';
import { startRapport } from '../../../worker/start';
import { simulationService } from '../simulate/service';

/** `rapport start`: runs the whole stack until Ctrl-C (SIGINT) or SIGTERM, then stops it cleanly. */
export async function startCommand(options: { role?: string } = {}): Promise<void> {
  let config;
  try {
    config = parseConfig({ ...process.env, ...(options.role ? { RAPPORT_ROLE: options.role } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger: Logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  let rapport;
  try {
    // The API's simulations (the console's simulate page) run here, on a time-skipping server of
    // their own, started the first time one is asked for.
    rapport = await startRapport(config, logger, {
      simulator: simulationService({ templatesDir: config.RAPPORT_TEMPLATES_DIR }),
    });
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'Rapport could not start');
    logger.flush();
    process.exitCode = 1;
    return;
  }
  const outbox = rapport.apiUrl ? `  (read it at ${rapport.apiUrl}/outbox)` : '';
  if (rapport.apiUrl) logger.info(`API:         ${rapport.apiUrl}  (try GET ${rapport.apiUrl}/v1/journeys)`);
  if (rapport.apiUrl) logger.info(`Console:     ${rapport.apiUrl}/console  (sign in with an API key)`);
  if (rapport.temporalUiUrl) logger.info(`Temporal UI: ${rapport.temporalUiUrl}`);
  else logger.info(`Temporal:    ${rapport.temporalAddress}`);
  if (config.RAPPORT_ROLE !== 'api') {
    logger.info(`Mail:        ${rapport.mailDestination}${config.SMTP_URL ? '' : outbox}`);
    logger.info(`SMS:         ${rapport.smsDestination}${config.TWILIO_ACCOUNT_SID ? '' : outbox}`);
  }
  logger.info({ role: config.RAPPORT_ROLE }, 'Rapport is running; Ctrl-C stops it');

  // A Ctrl-C reaches this process from the terminal and again from npm, which forwards it: a
  // repeat within two seconds is the same request. A later one means "stop now".
  let stoppingSince: number | undefined;
  const stop = (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < 2000) return;
      logger.warn('stopping at once');
      process.exit(130);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'stopping: letting running activities finish');
    void rapport
      .stop()
      .then(() => {
        logger.info('stopped');
        return 0;
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error while stopping');
        return 1;
      })
      // Everything Rapport started is stopped; idle handles of libraries must not hold the exit.
      .then((code) => logger.flush(() => process.exit(code)));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
