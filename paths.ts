/**
 * Where Rapport's own files are, for every part that reads them (the command line, the worker's
 * defaults, the tests, the scripts): no folder has to import another's start-up code to find them.
 */
import path from 'node:path';

/** The project's folder: the one with package.json. */
export const projectRoot = __dirname;
/** Binaries and builds Rapport installs for itself (ignored by git). */
export const toolsDir = path.join(projectRoot, '.tools');
/** The message templates that ship with Rapport. */
export const builtinTemplatesDir = path.join(projectRoot, 'definitions', 'templates');
/** The journeys that ship with Rapport. */
export const builtinJourneysDir = path.join(projectRoot, 'definitions', 'journeys');
/** Localised texts Rapport itself shows or sends (the preference centre, the SMS HELP answer). */
export const builtinTextsDir = path.join(projectRoot, 'definitions', 'texts');
/** The console's page templates and style sheet (client/server/console/). */
export const consoleViewsDir = path.join(projectRoot, 'client', 'server', 'console', 'views');
/** The lead scoring rules that ship with Rapport. */
export const builtinScoringFile = path.join(projectRoot, 'definitions', 'scoring.yaml');
